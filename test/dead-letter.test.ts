import { afterAll, describe, expect, it } from 'vitest';
import { selectedRuntime } from '../src/app/runtime.ts';
import type { DeadLetterEntry } from '../src/ledger/dead-letter.ts';
import { deleteKeys, newRedis, REDIS_URL, testConfig, uniquePrefix } from './helpers/redis.ts';
import { startTestServer } from './helpers/http.ts';
import { runCli } from './helpers/processes.ts';

const redis = newRedis();
const prefix = uniquePrefix('dlq');
const config = testConfig(prefix);
const runtime = selectedRuntime(redis, config);
const { deadLetters: dlq, producer } = runtime;
afterAll(async () => {
  await runtime.close();
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

  it('keeps per-operation counts as entries come, are replaced and go', async () => {
    await dlq.add(entry('forbid.default.e', 'ForbidLiveStream', 'InvalidResumeTime.Malformed'));
    await dlq.add(entry('forbid.default.e', 'ForbidLiveStream', 'InvalidResumeTime.Malformed'));
    await dlq.add(entry('stop-monitor.default.f', 'StopLiveStreamMonitor', 'StreamMonitorNotExist'));
    expect([await dlq.count('ForbidLiveStream'), await dlq.count('StopLiveStreamMonitor'), await dlq.count()]).toEqual([1, 1, 2]);
    expect(await dlq.page({ operation: 'StopLiveStreamMonitor' }, 0, 10)).toMatchObject({ total: 1, entries: [{ id: 'stop-monitor.default.f' }] });
    expect(await dlq.purge({ operation: 'ForbidLiveStream' })).toBe(1);
    expect([await dlq.count('ForbidLiveStream'), await dlq.count()]).toEqual([0, 1]);
    expect(await dlq.reconcile()).toBe(false);
  });

  it('rebuilds counts that drifted from the entries (written by an older version)', async () => {
    await dlq.add(entry('forbid.default.g', 'ForbidLiveStream', 'InvalidResumeTime.Malformed'));
    await redis.del(`${prefix}:dead-letter-ids:forbid`, `${prefix}:dead-letter-ids:stop-monitor`);
    expect(await dlq.count()).toBe(0);
    expect(await dlq.reconcile()).toBe(true);
    expect([await dlq.count('ForbidLiveStream'), await dlq.count('StopLiveStreamMonitor')]).toEqual([1, 1]);
    await dlq.purge({});
  });

  it('pages through entries oldest first', async () => {
    for (let i = 0; i < 5; i++) await dlq.add(entry(`forbid.default.p${i}`, 'ForbidLiveStream', 'InvalidResumeTime.Malformed'));
    const first = await dlq.page({}, 0, 2);
    const second = await dlq.page({}, 2, 2);
    const last = await dlq.page({}, 4, 2);
    expect(first.total).toBe(5);
    expect([...first.entries, ...second.entries, ...last.entries].map((e) => e.id)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4'].map((p) => `forbid.default.${p}`));
    await dlq.purge({});
  });
});

describe('a malformed entry', () => {
  it('is skipped, named and counted; it breaks neither list, status, the CLI nor the HTTP API', async () => {
    await dlq.add(entry('forbid.default.good', 'ForbidLiveStream', 'InvalidResumeTime.Malformed'));
    // Written by something else: a field is missing.
    const { code: _dropped, ...broken } = entry('forbid.default.broken', 'ForbidLiveStream', 'x');
    await dlq.queue.add('ForbidLiveStream', broken, { jobId: 'forbid.default.broken' });
    await dlq.reconcile();

    expect((await dlq.list()).map((e) => e.id)).toEqual(['forbid.default.good']);
    const page = await dlq.page({}, 0, 10);
    expect(page.entries.map((e) => e.id)).toEqual(['forbid.default.good']);
    expect(page.malformed).toEqual([{ id: 'forbid.default.broken', problem: expect.stringContaining('code') }]);
    expect((await runtime.status())[0]!.deadLettered).toBe(2);

    const env = { REDIS_URL, QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent' };
    const cli = await runCli(['dlq', 'list'], env);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('forbid.default.good');
    expect(cli.output).toContain('skipped 1 malformed entry: forbid.default.broken (code:');
    expect((await runCli(['status', '--json'], env)).code).toBe(0);

    const server = await startTestServer(config);
    try {
      const answer = await server.request('/v1/dlq');
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ total: 2, entries: [{ id: 'forbid.default.good' }], malformed: [{ id: 'forbid.default.broken' }] });
    } finally {
      await server.close();
    }
    await dlq.purge({});
  });
});

describe('status with a large dead-letter queue', () => {
  /** Commands Redis ran while `work` ran (this suite is alone on the server: files run one at a time). */
  async function commandsDuring(work: () => Promise<unknown>): Promise<number> {
    const total = async () => {
      const info = await redis.info('commandstats');
      return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const before = await total();
    await work();
    // The INFO call that reads `after` counts itself once, as the one for `before` did.
    return (await total()) - before;
  }

  it('costs the same number of Redis commands with 0 and 2,000 entries', async () => {
    const statusPrefix = uniquePrefix('dlq-status');
    const account = selectedRuntime(redis, testConfig(statusPrefix));
    const statusDlq = account.deadLetters;
    try {
      // Once to load the scripts (a first EVALSHA misses and falls back to EVAL).
      await account.status();
      const empty = await commandsDuring(() => account.status());
      for (let i = 0; i < 2000; i += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, j) => statusDlq.add(entry(`forbid.default.s${i + j}`, i % 200 === 0 ? 'StopLiveStreamMonitor' : 'ForbidLiveStream', 'InvalidResumeTime.Malformed'))));
      }
      const full = await commandsDuring(() => account.status());
      expect(full).toBe(empty);
      const rows = await account.status();
      expect(rows.map((r) => r.deadLettered).reduce((a, b) => a + b, 0)).toBe(2000);
    } finally {
      await account.close();
      await deleteKeys(redis, statusPrefix);
    }
  });
});
