import { afterAll, describe, expect, it } from 'vitest';
import { DeadLetterQueue, type DeadLetterEntry } from '../src/queue/dead-letter.ts';
import { Producer } from '../src/queue/producer.ts';
import { deleteKeys, newRedis, testConfig, uniquePrefix } from './helpers/redis.ts';

const redis = newRedis();
const prefix = uniquePrefix('dlq');
const config = testConfig(prefix);
const dlq = new DeadLetterQueue(redis, prefix);
const producer = new Producer(redis, config);
afterAll(async () => {
  await Promise.all([dlq.close(), producer.close()]);
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

function entry(id: string, operation: DeadLetterEntry['operation'], code: string): DeadLetterEntry {
  const params = operation === 'ForbidLiveStream'
    ? { DomainName: 'demo.aliyundoc.com', AppName: 'app', StreamName: id, LiveStreamType: 'publisher' }
    : { MonitorId: '445409ec-7eaa-461d-8f29-4bec2eb9a1b2' };
  return { id, operation, params, priority: 'normal', reason: 'terminal', code, message: `${code} message`, httpStatus: 400, requestId: `req-${id}`, attempts: 1, firstFailedAt: 1000, lastFailedAt: 2000 };
}

describe('DeadLetterQueue', () => {
  it('lists entries with all their fields, filtered by code and operation', async () => {
    await dlq.add(entry('forbid.default.a', 'ForbidLiveStream', 'QuotaExceeded.Blacklist'));
    await dlq.add(entry('forbid.default.b', 'ForbidLiveStream', 'InvalidResumeTime.Malformed'));
    await dlq.add(entry('stop-monitor.default.c', 'StopLiveStreamMonitor', 'StreamMonitorNotExist'));
    expect(await dlq.list()).toHaveLength(3);
    expect(await dlq.list({ code: 'QuotaExceeded.Blacklist' })).toEqual([entry('forbid.default.a', 'ForbidLiveStream', 'QuotaExceeded.Blacklist')]);
    expect((await dlq.list({ operation: 'StopLiveStreamMonitor' })).map((e) => e.id)).toEqual(['stop-monitor.default.c']);
    expect(await dlq.count()).toBe(3);
  });

  it('replaces an older entry of the same job', async () => {
    await dlq.add({ ...entry('forbid.default.b', 'ForbidLiveStream', 'InvalidResumeTime.Malformed'), attempts: 5 });
    const found = await dlq.list({ ids: ['forbid.default.b'] });
    expect(found).toHaveLength(1);
    expect(found[0]!.attempts).toBe(5);
  });

  it('replays by id with fresh attempts and removes the entry', async () => {
    expect(await dlq.replay({ ids: ['forbid.default.a'] }, config.retry)).toBe(1);
    const job = await producer.queue('ForbidLiveStream').getJob('forbid.default.a');
    expect(job?.data.StreamName).toBe('forbid.default.a');
    expect(job?.attemptsMade).toBe(0);
    expect(job?.opts.attempts).toBe(config.retry.attempts);
    expect(await dlq.list({ ids: ['forbid.default.a'] })).toEqual([]);
  });

  it('replays by code and purges by code, leaving other entries', async () => {
    expect(await dlq.replay({ code: 'StreamMonitorNotExist' }, config.retry)).toBe(1);
    expect(await producer.queue('StopLiveStreamMonitor').getJob('stop-monitor.default.c')).toBeDefined();
    await dlq.add(entry('forbid.default.d', 'ForbidLiveStream', 'IllegalOperation'));
    expect(await dlq.purge({ code: 'InvalidResumeTime.Malformed' })).toBe(1);
    expect((await dlq.list()).map((e) => e.id)).toEqual(['forbid.default.d']);
    expect(await dlq.purge({})).toBe(1);
    expect(await dlq.count()).toBe(0);
  });
});
