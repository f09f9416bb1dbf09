import { afterAll, describe, expect, it } from 'vitest';
import { selectedRuntime } from '../src/app/runtime.ts';
import type { Operation } from '../src/catalog/operations.ts';
import type { Priority } from '../src/queue/job-options.ts';
import { jobId } from '../src/queue/names.ts';
import { deleteKeys, newRedis, testConfig, uniquePrefix } from './helpers/redis.ts';

const redis = newRedis();
const prefix = uniquePrefix('producer');
const config = testConfig(prefix);
const runtime = selectedRuntime(redis, config);
const { intake, producer } = runtime;
const enqueueOne = async (operation: Operation, params: unknown, priority?: Priority) => (await intake.add(operation, [{ params, ...(priority ? { priority } : {}) }]))[0]!;
afterAll(async () => {
  await runtime.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const ban = (stream: string, extra: Record<string, unknown> = {}) => ({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: stream, ...extra });

describe('the intake (one account)', () => {
  it('enqueues a valid ban with a deterministic id and the configured retry schedule', async () => {
    const result = await enqueueOne('ForbidLiveStream', ban('s1', { Oneshot: 'yes', ResumeTime: '2030-01-01T00:00:00Z' }));
    expect(result).toEqual({ status: 'enqueued', jobId: jobId('ForbidLiveStream', 'default', ban('s1') as never) });
    const job = await producer.queue('ForbidLiveStream').getJob((result as { jobId: string }).jobId);
    expect(job?.data).toEqual(ban('s1', { Oneshot: 'yes', ResumeTime: '2030-01-01T00:00:00Z', LiveStreamType: 'publisher' }));
    expect(job?.opts.attempts).toBe(config.retry.attempts);
    expect(job?.opts.priority).toBe(1);
  });

  it('does not enqueue a ban that is already pending, even with other options', async () => {
    const first = await enqueueOne('ForbidLiveStream', ban('dup'));
    const again = await enqueueOne('ForbidLiveStream', ban('dup', { ResumeTime: '2031-01-01T00:00:00Z' }), 'urgent');
    expect(first.status).toBe('enqueued');
    expect(again).toEqual({ status: 'duplicate', jobId: (first as { jobId: string }).jobId });
    expect(await producer.queue('ForbidLiveStream').getJobCountByTypes('prioritized', 'wait')).toBe(2);
  });

  it('rejects invalid records with field-level reasons and keeps the valid ones of the same batch', async () => {
    const results = await intake.add('ForbidLiveStream', [
      { params: ban('ok-1') },
      { params: ban('bad', { LiveStreamType: 'player', ResumeTime: 'tomorrow' }) },
      { params: { DomainName: 'demo.aliyundoc.com' } },
      { params: ban('ok-2') },
      { params: ban('ok-1') },
    ]);
    expect(results.map((r) => r.status)).toEqual(['enqueued', 'invalid', 'invalid', 'enqueued', 'duplicate']);
    expect(results[1]).toEqual({
      status: 'invalid',
      errors: [
        { field: 'LiveStreamType', message: 'LiveStreamType must be "publisher"' },
        { field: 'ResumeTime', message: 'ResumeTime must be yyyy-MM-ddTHH:mm:ssZ in UTC' },
      ],
    });
    expect(results[2]).toMatchObject({ status: 'invalid', errors: [{ field: 'AppName' }, { field: 'StreamName' }] });
    // Two new jobs, nothing for the invalid records.
    const stored = await producer.queue('ForbidLiveStream').getJobs(['prioritized']);
    expect(stored.map((j) => j.data.StreamName).sort()).toEqual(['dup', 'ok-1', 'ok-2', 's1']);
    // Nothing of the invalid records reached Redis: no key under their would-be id, no value holding their data.
    const keys = await redis.keys(`${prefix}:*`);
    const badId = jobId('ForbidLiveStream', 'default', ban('bad') as never);
    expect(keys.filter((k) => k.includes(badId))).toEqual([]);
    const values = await Promise.all(keys.map(async (key) => {
      const type = await redis.type(key);
      if (type === 'hash') return JSON.stringify(await redis.hgetall(key));
      if (type === 'string') return (await redis.get(key)) ?? '';
      if (type === 'list') return JSON.stringify(await redis.lrange(key, 0, -1));
      if (type === 'zset') return JSON.stringify(await redis.zrange(key, '0', '-1'));
      if (type === 'set') return JSON.stringify(await redis.smembers(key));
      return '';
    }));
    const everything = values.join('\n');
    expect(everything).toContain('ok-2');
    for (const trace of ['"bad"', 'player', 'tomorrow']) expect(everything).not.toContain(trace);
  });

  it('validates monitor ids and marks urgent jobs so they are served before the normal backlog', async () => {
    const monitorId = '445409ec-7eaa-461d-8f29-4bec2eb9a1b2';
    expect(await enqueueOne('StopLiveStreamMonitor', { MonitorId: 'not-a-uuid' })).toEqual({
      status: 'invalid',
      errors: [{ field: 'MonitorId', message: 'MonitorId must be a UUID' }],
    });
    const urgent = await enqueueOne('StopLiveStreamMonitor', { MonitorId: monitorId }, 'urgent');
    expect(urgent).toEqual({ status: 'enqueued', jobId: `stop-monitor.default.${monitorId}` });
    const job = await producer.queue('StopLiveStreamMonitor').getJob(`stop-monitor.default.${monitorId}`);
    expect(job?.opts.priority ?? 0).toBe(0);
    expect(await job?.getState()).toBe('waiting');
  });

  it('adds a large batch in one call', async () => {
    const records = Array.from({ length: 2000 }, (_, i) => ({ params: ban(`bulk-${i}`) }));
    const results = await intake.add('ForbidLiveStream', records);
    expect(results.filter((r) => r.status === 'enqueued')).toHaveLength(2000);
    expect(await producer.queue('ForbidLiveStream').getPrioritizedCount()).toBe(2004);
  });
});
