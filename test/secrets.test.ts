import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlibabaLiveClient, providerCredential } from '../src/live/client.ts';
import { accountWorkers } from '../src/app/account-workers.ts';
import { createLogger } from '../src/log.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, statusOf, type Harness } from './helpers/harness.ts';
import { runCli, startCli, waitForOutput } from './helpers/processes.ts';
import { deleteKeys, newRedis, REDIS_URL, uniquePrefix } from './helpers/redis.ts';
import { startSimulatorProcess, type SimulatorProcess } from './helpers/simulator-process.ts';
import { waitFor } from './helpers/wait.ts';

/** Every value under a key prefix: strings, hashes, lists, sets, sorted sets (with scores) and streams. */
async function everyValueUnder(redis: Redis, prefix: string): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, '0', '-1', 'WITHSCORES')));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
      else if (type !== 'none') parts.push(`(unread type ${type})`);
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

/** The AccessKey secret never appears in logs, in any Redis key, or in dead-letter entries. */
describe('secrets', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('secrets', {});
  });
  afterAll(() => h.close());

  it('stay out of logs (at debug level), Redis and the dead-letter queue through applied, retried, throttled and dead-lettered jobs', async () => {
    const params = (s: string) => ({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: s });
    h.sim.script({ action: 'ForbidLiveStream', match: { StreamName: 'retry' }, code: 'InternalError', status: 500, times: 1 });
    h.sim.script({ action: 'ForbidLiveStream', match: { StreamName: 'throttle' }, code: 'Throttling.User', status: 400, times: 1 });
    await h.intake.add('ForbidLiveStream', ['ok', 'retry', 'throttle'].map((s) => ({ params: params(s) })));
    await h.intake.add('StopLiveStreamMonitor', [{ params: { MonitorId: randomUUID() } }]);

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

    const redis = await everyValueUnder(h.redis, h.config.prefix);
    expect(redis).toContain(h.config.prefix);
    expect(redis).not.toContain(ACCESS_KEY_SECRET);
  });
});

/**
 * A credential source whose answer the credentials library quotes in its
 * error text: a credentials URI (ALIBABA_CLOUD_CREDENTIALS_URI) answering
 * JSON with AccessKeyId and AccessKeySecret but no SecurityToken. Neither its
 * secret nor the first characters of it may reach a log line, Redis, status
 * or a hold, whether the source fails at start or after it.
 */
describe('a credential source that quotes its answer in its error', () => {
  // Mixed case: its first six characters cannot occur in an id, a hex digest or a UUID by chance.
  const SECRET = `Qz7mWv${randomBytes(12).toString('hex')}`;
  const SECRET_HEAD = SECRET.slice(0, 6);
  const GOOD = { id: 'uri-access-key-id', secret: `uri-good-${randomBytes(12).toString('hex')}`, token: `uri-token-${randomBytes(12).toString('hex')}` };

  /** Whether the URI's next answer is good STS credentials (short-lived, so the library asks again) or the bad answer. */
  let answerGood = () => false;
  const served = { good: 0, bad: 0 };
  let uriServer: Server;
  let uri: string;
  let sim: SimulatorProcess;
  let home: string;
  const redis = newRedis();
  const prefixes: string[] = [];

  beforeAll(async () => {
    uriServer = createServer((_req, res) => {
      const good = answerGood();
      if (good) served.good++;
      else served.bad++;
      const expiration = new Date(Date.now() + 60_000).toISOString();
      const body = good
        ? { Code: 'Success', AccessKeyId: GOOD.id, AccessKeySecret: GOOD.secret, SecurityToken: GOOD.token, Expiration: expiration }
        : { Code: 'Success', AccessKeyId: GOOD.id, AccessKeySecret: SECRET, Expiration: expiration };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => uriServer.listen(0, '127.0.0.1', resolve));
    uri = `http://127.0.0.1:${(uriServer.address() as { port: number }).port}/credentials`;
    sim = await startSimulatorProcess(['--latency', '1-3'], { ALIBABA_CLOUD_ACCESS_KEY_ID: GOOD.id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: GOOD.secret });
    // No profile or CLI config to fall back on: the URI is the chain's only source.
    home = mkdtempSync(join(tmpdir(), 'lq-secrets-home-'));
  });
  afterAll(async () => {
    await sim?.stop();
    uriServer?.close();
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    redis.disconnect();
    rmSync(home, { recursive: true, force: true });
  });

  /** `livequeue worker` as deployed: no flags, its credentials from the URI named in its environment. */
  function deployment(name: string) {
    const prefix = uniquePrefix(name);
    prefixes.push(prefix);
    const env = {
      REDIS_URL, QUEUE_PREFIX: prefix, LIVE_ENDPOINT: sim.endpoint, LOG_LEVEL: 'trace', METRICS_PORT: '0', HOME: home,
      ALIBABA_CLOUD_CREDENTIALS_URI: uri, RETRY_BASE_DELAY_MS: '20', RETRY_MAX_DELAY_MS: '50',
    };
    return { prefix, env };
  }

  const bans = (n: number, tag: string) => Array.from({ length: n }, (_, i) => JSON.stringify({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `${tag}-${i}`, Oneshot: 'yes' })).join('\n');

  /** Nothing of the secret in `text`: not whole, not its first characters. */
  function expectNoSecret(text: string, where: string): void {
    expect(text.includes(SECRET), `the secret in ${where}`).toBe(false);
    expect(text.includes(SECRET_HEAD), `the secret's first characters in ${where}`).toBe(false);
    expect(text.includes(GOOD.secret), `the good secret in ${where}`).toBe(false);
    expect(text.includes(GOOD.token), `the security token in ${where}`).toBe(false);
  }

  it('at start: the worker exits 2 naming the provider and a fixed reason, and quotes nothing the source answered', async () => {
    answerGood = () => false;
    const before = served.bad;
    const { prefix, env } = deployment('secrets-uri-start');
    expect((await runCli(['enqueue', 'forbid', '--file', '-'], env, bans(3, 'start'))).code).toBe(0);

    const worker = startCli(['worker'], env);
    expect(await worker.exited).toBe(2);
    expect(served.bad).toBeGreaterThan(before);
    const output = worker.output();
    expectNoSecret(output, 'the worker output');
    expect(output).toContain('no usable Alibaba Cloud credentials');
    expect(output).toContain('credential_uri (ALIBABA_CLOUD_CREDENTIALS_URI)');
    expect(output).toContain('the credentials URI answered without all of AccessKeyId, AccessKeySecret and SecurityToken');
    expect(output).not.toContain('workers started');

    const status = await runCli(['status', '--json'], env);
    expect(status.code).toBe(0);
    expect(statusOfJson(status.stdout, 'ForbidLiveStream')).toMatchObject({ waiting: 3, hold: null });
    expectNoSecret(status.output, 'status --json');
    const values = await everyValueUnder(redis, prefix);
    expect(values).toContain(`${prefix}:`);
    expectNoSecret(values, 'Redis');
  });

  it('mid-drain: the worker keeps the last good credentials (as the library does), drains, and quotes nothing the source answered', async () => {
    // Good for the start-up check and the first two calls, then the bad answer on every later refresh:
    // each good answer expires within the library's 15-minute stale window, so every call asks the URI again.
    let goodLeft = 3;
    answerGood = () => goodLeft-- > 0;
    const badBefore = served.bad;
    const { prefix, env } = deployment('secrets-uri-drain');
    expect((await runCli(['enqueue', 'forbid', '--file', '-'], env, bans(30, 'drain'))).code).toBe(0);

    const worker = startCli(['worker'], env);
    try {
      await waitForOutput(worker, (o) => o.includes('workers started'));
      const applied = async () => (await sim.calls()).filter((c) => c.code === 'OK' && c.params.StreamName?.startsWith('drain-')).length;
      await waitFor(async () => (await applied()) === 30, 20_000, 'all 30 bans applied');
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    } finally {
      worker.child.kill('SIGKILL');
    }
    // The source really failed after start: the worker asked it again and got the bad answer.
    expect(goodLeft).toBeLessThan(0);
    expect(served.bad).toBeGreaterThan(badBefore);
    const calls = (await sim.calls()).filter((c) => c.params.StreamName?.startsWith('drain-'));
    expect(calls.filter((c) => c.code === 'OK')).toHaveLength(30);

    const output = worker.output();
    expectNoSecret(output, 'the worker output');
    const status = await runCli(['status', '--json'], env);
    expect(statusOfJson(status.stdout, 'ForbidLiveStream')).toMatchObject({ applied: 30, waiting: 0, hold: null });
    expectNoSecret(status.output, 'status --json');
    const values = await everyValueUnder(redis, prefix);
    expect(values).toContain(`${prefix}:`);
    expectNoSecret(values, 'Redis');
  });

  it('on every call (the library has no good answer to fall back on): the hold, its log lines and status name the provider, never the answer', async () => {
    const h = await startHarness('secrets-uri-hold', { RETRY_BASE_DELAY_MS: '20', RETRY_MAX_DELAY_MS: '50', HOLD_PROBE_MS: '200', HOLD_PROBE_MAX_MS: '800' });
    try {
      answerGood = () => false;
      const require = createRequire(import.meta.url);
      const { URICredentialsProvider } = require('@alicloud/credentials') as typeof import('@alicloud/credentials');
      // The library's own URI provider, as the default chain builds it.
      const credential = providerCredential(URICredentialsProvider.builder().withCredentialsURI(uri).build());
      let logs = '';
      const stream = new PassThrough();
      stream.on('data', (chunk: Buffer) => (logs += chunk.toString()));
      await h.intake.add('ForbidLiveStream', Array.from({ length: 10 }, (_, i) => ({ params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `hold-${i}` } })));
      h.workers = accountWorkers(h.runtime, {
        log: createLogger('trace', stream),
        live: new AlibabaLiveClient({ ...h.config.live, regionId: h.runtime.settings.region, credential }),
        operations: ['ForbidLiveStream'],
        concurrency: 2,
      });
      h.workers.start();
      await waitFor(async () => statusOf(await h.status(), 'ForbidLiveStream').hold !== null, 10_000, 'a hold');
      const statusJson = await runCli(['status', '--json'], { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LOG_LEVEL: 'silent' });
      expectNoSecret(statusJson.output, 'status --json');
      expectNoSecret(await everyValueUnder(h.redis, h.config.prefix), 'Redis');
      expectNoSecret(logs, 'the worker log');
      expect(statusJson.stdout).toContain('CredentialsUnavailable');
      expect(logs).toContain('CredentialsUnavailable');

      const hold = statusOf(await h.status(), 'ForbidLiveStream').hold!;
      expect(hold).toMatchObject({ reason: 'credentials', code: 'CredentialsUnavailable' });
      expect(hold.message).toContain('credential_uri');
      expect(hold.message).toContain('the credentials URI answered without all of AccessKeyId, AccessKeySecret and SecurityToken');
      expect(h.sim.calls()).toEqual([]);
    } finally {
      await h.close();
    }
  });

  function statusOfJson(stdout: string, operation: string): { applied: number; waiting: number; hold: unknown } {
    return (JSON.parse(stdout) as { operation: string; applied: number; waiting: number; hold: unknown }[]).find((r) => r.operation === operation)!;
  }
});
