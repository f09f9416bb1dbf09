import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { startCli, waitForOutput } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';

/** The AccessKey secret never appears in logs, in any Redis key, or in dead-letter entries. */
let h: Harness;
beforeAll(async () => {
  h = await startHarness('secrets', {});
});
afterAll(() => h.close());

async function everyValueInRedis(): Promise<string> {
  const redis = h.redis;
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, '0', '-1')));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

describe('secrets', () => {
  it('stay out of logs (at debug level), Redis and the dead-letter queue through applied, retried, throttled and dead-lettered jobs', async () => {
    const params = (s: string) => ({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: s });
    h.sim.script({ action: 'ForbidLiveStream', match: { StreamName: 'retry' }, code: 'InternalError', status: 500, times: 1 });
    h.sim.script({ action: 'ForbidLiveStream', match: { StreamName: 'throttle' }, code: 'Throttling.User', status: 400, times: 1 });
    await h.producer.enqueueBatch('ForbidLiveStream', ['ok', 'retry', 'throttle'].map((s) => ({ params: params(s) })));
    await h.producer.enqueue('StopLiveStreamMonitor', { MonitorId: randomUUID() });

    const worker = startCli(['worker'], {
      REDIS_URL, QUEUE_PREFIX: h.config.prefix, LIVE_ENDPOINT: h.endpoint, LOG_LEVEL: 'trace',
      ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET,
      RETRY_BASE_DELAY_MS: '20', RETRY_MAX_DELAY_MS: '50',
    });
    await h.drained(4);
    worker.child.kill('SIGTERM');
    await worker.exited;
    await waitForOutput(worker, (o) => o.includes('"msg":"stopped"'));

    const logs = worker.output();
    expect(logs).toContain('"msg":"dead-lettered"');
    expect(logs).toContain('"msg":"transient failure; will retry"');
    expect(logs).toContain('throttled by the API');
    expect(logs).not.toContain(ACCESS_KEY_SECRET);

    const entries = await h.deadLetters.list();
    expect(entries).toHaveLength(1);
    expect(JSON.stringify(entries)).not.toContain(ACCESS_KEY_SECRET);

    const redis = await everyValueInRedis();
    expect(redis).toContain(h.config.prefix);
    expect(redis).not.toContain(ACCESS_KEY_SECRET);
  });
});
