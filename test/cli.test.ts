import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, statusOf, type Harness } from './helpers/harness.ts';
import { runCli, startCli, waitForOutput } from './helpers/processes.ts';
import { deleteKeys, newRedis, REDIS_URL, uniquePrefix } from './helpers/redis.ts';

/** The real `livequeue` command, run as a child process against real Redis and the simulator. */
let h: Harness;
let env: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), 'livequeue-cli-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const line = (stream: string, extra: Record<string, string> = {}) => JSON.stringify({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: stream, ...extra });

beforeAll(async () => {
  h = await startHarness('cli', { RETRY_ATTEMPTS: '2', RETRY_BASE_DELAY_MS: '20', RETRY_MAX_DELAY_MS: '50' });
  env = { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LIVE_ENDPOINT: h.endpoint, ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'warn' };
});
afterAll(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('livequeue enqueue', () => {
  it('enqueues a JSONL file, reports invalid lines by number with the field-level reason, exits 1', async () => {
    const path = file('bans.jsonl', [
      line('a1'),
      line('a2', { ResumeTime: '2030-01-01 00:00:00' }),
      '',
      'not json',
      line('a3', { LiveStreamType: 'player', Oneshot: 'yes' }),
      line('a1'),
      line('a4', { Oneshot: 'yes', ResumeTime: '2030-01-01T00:00:00Z', RegionId: 'cn-beijing' }),
    ].join('\n'));
    const { code, stdout } = await runCli(['enqueue', 'forbid', '--file', path], env);
    expect(code).toBe(1);
    expect(stdout).toContain('enqueued: 2');
    expect(stdout).toContain('duplicates skipped (already pending): 1');
    expect(stdout).toContain('invalid: 3');
    expect(stdout).toContain('line 2: ResumeTime must be yyyy-MM-ddTHH:mm:ssZ in UTC');
    expect(stdout).toMatch(/line 4: line is not valid JSON/);
    expect(stdout).toContain('line 5: LiveStreamType must be "publisher"');
    const jobs = await h.producer.queue('ForbidLiveStream').getJobs(['prioritized']);
    expect(jobs.map((j) => j.data.StreamName).sort()).toEqual(['a1', 'a4']);
    expect(jobs.find((j) => j.data.StreamName === 'a4')!.data).toMatchObject({ Oneshot: 'yes', RegionId: 'cn-beijing' });
  });

  it('reads CSV with flag defaults for the fields a line lacks, and prints --json', async () => {
    const path = file('bans.csv', 'DomainName,AppName,StreamName,Oneshot\ndemo.aliyundoc.com,liveApp,c1,\ndemo.aliyundoc.com,liveApp,c2,no\ndemo.aliyundoc.com,,c3,\n');
    const { code, stdout } = await runCli(['enqueue', 'forbid', '--file', path, '--oneshot', '--resume-time', '2031-01-01T00:00:00Z', '--region', 'cn-hangzhou', '--json'], env);
    expect(code).toBe(1);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ enqueued: 2, duplicates: 0, invalid: 1, invalidLines: [{ line: 4, errors: [{ field: 'AppName' }] }] });
    const jobs = await h.producer.queue('ForbidLiveStream').getJobs(['prioritized']);
    expect(jobs.find((j) => j.data.StreamName === 'c1')!.data).toMatchObject({ Oneshot: 'yes', ResumeTime: '2031-01-01T00:00:00Z', RegionId: 'cn-hangzhou' });
    expect(jobs.find((j) => j.data.StreamName === 'c2')!.data).toMatchObject({ Oneshot: 'no' });
  });

  it('reads standard input, and a re-run of the same input only counts duplicates (exit 0)', async () => {
    const input = [line('in1'), line('in2')].join('\n');
    const first = await runCli(['enqueue', 'forbid', '--file', '-', '--json'], env, input);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ enqueued: 2, duplicates: 0, invalid: 0 });
    const again = await runCli(['enqueue', 'forbid', '--file', '-', '--json'], env, input);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ enqueued: 0, duplicates: 2, invalid: 0 });
  });

  it('enqueues monitor stops from plain text, one MonitorId a line', async () => {
    const ids = h.sim.createMonitors(2);
    const path = file('monitors.txt', `${ids.join('\n')}\nnot-a-uuid\n`);
    const { code, stdout } = await runCli(['enqueue', 'stop-monitor', '--file', path], env);
    expect(code).toBe(1);
    expect(stdout).toContain('enqueued: 2');
    expect(stdout).toContain('line 3: MonitorId must be a UUID');
  });

  it('rejects a bad setting with one line naming the variable, exit 2', async () => {
    const { code, output } = await runCli(['enqueue', 'forbid', '--file', '-'], { ...env, FORBID_QPS: 'fast' }, '');
    expect(code).toBe(2);
    expect(output.trim()).toBe('livequeue: FORBID_QPS must be a number (got "fast")');
  });
});

describe('livequeue status and dlq', () => {
  it('status --json reports each operation', async () => {
    const { code, stdout } = await runCli(['status', '--json'], env);
    expect(code).toBe(0);
    const rows = JSON.parse(stdout);
    expect(rows.map((r: { operation: string }) => r.operation)).toEqual(['ForbidLiveStream', 'StopLiveStreamMonitor', 'ResumeLiveStream']);
    expect(rows[0]).toMatchObject({ waiting: 6, active: 0, configuredRate: 20, currentRate: 20 });
    expect(rows[1]).toMatchObject({ waiting: 2, configuredRate: 10 });
  });

  it('dlq list/replay/purge, with replay and purge refusing to touch everything without --all', async () => {
    await h.deadLetters.add({ id: 'forbid.default.x1', operation: 'ForbidLiveStream', params: JSON.parse(line('x1')), priority: 'normal', reason: 'terminal', code: 'QuotaExceeded.Blacklist', message: 'Exceed max blacklist count limit', httpStatus: 400, requestId: 'R1', attempts: 1, firstFailedAt: 1, lastFailedAt: 2 });
    await h.deadLetters.add({ id: 'forbid.default.x2', operation: 'ForbidLiveStream', params: JSON.parse(line('x2')), priority: 'normal', reason: 'terminal', code: 'IllegalOperation', message: 'nope', httpStatus: 401, requestId: 'R2', attempts: 1, firstFailedAt: 1, lastFailedAt: 2 });

    const list = await runCli(['dlq', 'list', '--code', 'QuotaExceeded.Blacklist', '--json'], env);
    expect(JSON.parse(list.stdout)).toMatchObject([{ id: 'forbid.default.x1', requestId: 'R1', attempts: 1 }]);
    const text = await runCli(['dlq', 'list', '--operation', 'forbid'], env);
    expect(text.stdout).toContain('1-2 of 2 entries');
    const paged = await runCli(['dlq', 'list', '--limit', '1'], env);
    expect(paged.stdout).toContain('forbid.default.x1');
    expect(paged.stdout).not.toContain('forbid.default.x2');
    expect(paged.stdout).toContain('1-1 of 2 entries; --offset 1 for more');
    const next = await runCli(['dlq', 'list', '--limit', '1', '--offset', '1', '--json'], env);
    expect(JSON.parse(next.stdout)).toMatchObject([{ id: 'forbid.default.x2' }]);
    const none = await runCli(['dlq', 'list', '--code', 'NoSuchCode'], env);
    expect(none.stdout.trim()).toBe('no dead-letter entry matches');
    const badLimit = await runCli(['dlq', 'list', '--limit', '0'], env);
    expect(badLimit.code).toBe(2);
    expect(badLimit.output).toContain('--limit must be a whole number of at least 1');

    const refused = await runCli(['dlq', 'replay'], env);
    expect(refused.code).toBe(2);
    expect(refused.output).toContain('pass --all');
    expect((await runCli(['dlq', 'purge'], env)).code).toBe(2);

    const dry = await runCli(['dlq', 'purge', '--code', 'QuotaExceeded.Blacklist', '--dry-run', '--json'], env);
    expect(JSON.parse(dry.stdout)).toEqual({ wouldPurge: 1, ids: ['forbid.default.x1'], notFound: [], dryRun: true });
    expect(await h.deadLetters.count()).toBe(2);
    const nope = await runCli(['dlq', 'purge', '--id', 'forbid.default.nope'], env);
    expect(nope.code).toBe(1);
    expect(nope.stdout.trim()).toBe('purged 0 entries');
    expect(nope.output).toContain('no dead-letter entry with id forbid.default.nope');

    const replayed = await runCli(['dlq', 'replay', '--code', 'QuotaExceeded.Blacklist'], env);
    expect(replayed.stdout.trim()).toBe('replayed 1 entry');
    expect(await h.producer.queue('ForbidLiveStream').getJob('forbid.default.x1')).toBeDefined();
    const purged = await runCli(['dlq', 'purge', '--all', '--confirm', '1'], env);
    expect(purged.stdout.trim()).toBe('purged 1 entry');
    expect(await h.deadLetters.count()).toBe(0);
    expect(await h.deadLetters.queue.getWaitingCount()).toBe(0);
  });
});

describe('livequeue worker', () => {
  it('takes an urgent ban before the normal backlog', async () => {
    const backlog = Array.from({ length: 60 }, (_, i) => line(`backlog-${i}`)).join('\n');
    await runCli(['enqueue', 'forbid', '--file', '-'], env, backlog);
    const worker = startCli(['worker', '--operations', 'forbid', '--concurrency', '4'], env);
    await waitForOutput(worker, () => h.sim.calls().length >= 5);
    const urgent = await runCli(['enqueue', 'forbid', '--file', '-', '--priority', 'urgent'], env, line('urgent-1'));
    expect(urgent.code).toBe(0);
    const enqueuedAt = Date.now();
    await waitForOutput(worker, () => h.sim.calls().some((c) => c.params.StreamName === 'urgent-1'), 10_000);
    const calls = h.sim.calls().filter((c) => c.action === 'ForbidLiveStream');
    const urgentCall = calls.find((c) => c.params.StreamName === 'urgent-1')!;
    // Only the jobs the worker already held (concurrency 4) may go first, not the remaining backlog.
    expect(calls.filter((c) => c.at > enqueuedAt && c.at < urgentCall.at).length).toBeLessThanOrEqual(4);
    expect(await h.producer.queue('ForbidLiveStream').getPrioritizedCount()).toBeGreaterThan(20);

    // SIGTERM mid-drain: finishes in-flight calls, exits 0, leaves nothing active and nothing lost.
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const row = statusOf(await h.status(), 'ForbidLiveStream');
    expect(row.active).toBe(0);
    expect(row.waiting).toBeGreaterThan(0);
    expect(worker.output()).not.toContain(ACCESS_KEY_SECRET);
  });
});

describe('enqueue input files that cannot be read as records', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lq-input-'));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  // Each case its own prefix; a refused input still opens the queues (their meta) and records its batch: all deleted after.
  const prefixes: string[] = [];
  const cliEnv = () => {
    const prefix = uniquePrefix('input-files');
    prefixes.push(prefix);
    return { REDIS_URL, QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent' };
  };
  afterAll(async () => {
    const redis = newRedis();
    try {
      for (const prefix of prefixes) await deleteKeys(redis, prefix);
    } finally {
      redis.disconnect();
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const ban = { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'a1' };

  it.each([
    ['a .json file holding an array', 'bans.json', JSON.stringify([ban, { ...ban, StreamName: 'a2' }], null, 2), 'the input is a JSON array; give one JSON object per line'],
    ['a CSV with only its header', 'bans.csv', 'DomainName,AppName,StreamName\n', 'the input holds no records (an empty file, or a CSV with only its header)'],
    ['a CSV without a header', 'bans.csv', 'demo.aliyundoc.com,liveApp,a1\ndemo.aliyundoc.com,liveApp,a2\n', 'the first line of a CSV file must be its header naming the fields (e.g. DomainName,AppName,StreamName)'],
    ['an empty file', 'bans.jsonl', '', 'the input holds no records'],
  ])('refuses %s whole, in one line, exit 2, nothing enqueued', async (_, name, content, message) => {
    const env = cliEnv();
    const result = await runCli(['enqueue', 'forbid', '--file', file(name, content)], env);
    expect(result.code).toBe(2);
    expect(result.output).toContain(`livequeue: ${message}`);
    expect(result.output).not.toMatch(/\n\s+at /);
    const probe = newRedis();
    try {
      // No job, nor any key but the queue's own meta (BullMQ writes it when the queue is opened).
      expect((await probe.keys(`${env.QUEUE_PREFIX}:forbid:*`)).filter((k) => !k.endsWith(':meta'))).toEqual([]);
    } finally {
      probe.disconnect();
    }
  });

  it('names a directory given as --file, without a stack', async () => {
    const result = await runCli(['enqueue', 'forbid', '--file', dir], cliEnv());
    expect(result.code).toBe(2);
    expect(result.output.trim()).toBe(`livequeue: --file: ${dir} is a directory; give a file, or - for standard input`);
  });
});
