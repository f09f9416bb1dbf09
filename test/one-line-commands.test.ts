import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * `livequeue ban` and `lift` name a few streams on the command line and go
 * through the same intake as a file; the exit codes tell a script what
 * happened; every subcommand's help shows the global flags; `dlq purge --all`
 * asks for a count first. Real processes against real Redis and the
 * simulator, with `livequeue worker` draining as users run it.
 */
const DOMAIN = 'demo.aliyundoc.com';
const APP = 'liveApp';
const target = (stream: string) => `${DOMAIN}/${APP}/${stream}`;
let h: Harness;
let env: Record<string, string>;
let worker: RunningProcess | undefined;

beforeAll(async () => {
  h = await startHarness('one-line');
  env = { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LIVE_ENDPOINT: h.endpoint, ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'warn' };
});
afterAll(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.exited;
  await h.close();
});

/** Whether the batch was ever recorded: a refused command leaves none. */
const batchExists = (batch: string) => h.runtime.batches.show(batch).then(() => true, () => false);

describe('livequeue ban and lift', () => {
  it('ban --for 2h enqueues each stream with ResumeTime now+2h; the worker blacklists them; lift lifts them', async () => {
    const banned = await runCli(['ban', target('s1'), target('s2'), '--for', '2h', '--reason', 'x', '--batch', 'ban-2h'], env);
    expect(banned.code, banned.output).toBe(0);
    expect(banned.stdout).toContain('batch: ban-2h');
    expect(banned.stdout).toContain('enqueued: 2');
    const jobs = await h.producer.queue('ForbidLiveStream').getJobs(['waiting', 'prioritized']);
    expect(jobs.map((j) => j.data.StreamName).sort()).toEqual(['s1', 's2']);
    for (const job of jobs) {
      expect(job.data.ResumeTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      expect(Math.abs(Date.parse(job.data.ResumeTime) - (Date.now() + 2 * 3_600_000))).toBeLessThan(60_000);
    }
    expect((await h.runtime.batches.show('ban-2h')).by).toMatchObject({ reason: 'x' });

    worker = startCli(['worker'], { ...env, LOG_LEVEL: 'info', METRICS_PORT: '0' });
    await waitForOutput(worker, (o) => o.includes('workers started'));
    await waitFor(() => h.sim.isBlacklisted(DOMAIN, APP, 's1') && h.sim.isBlacklisted(DOMAIN, APP, 's2'), 15_000, 's1 and s2 blacklisted');
    const sent = h.sim.calls().filter((c) => c.action === 'ForbidLiveStream' && c.code === 'OK');
    expect(sent.map((c) => c.params.ResumeTime)).toEqual(jobs.map(() => jobs[0]!.data.ResumeTime));

    const lifted = await runCli(['lift', target('s1'), target('s2'), '--reason', 'appeal', '--json'], env);
    expect(lifted.code, lifted.output).toBe(0);
    expect(JSON.parse(lifted.stdout)).toMatchObject({ enqueued: 2, duplicates: 0, invalid: 0, invalidTargets: [] });
    await waitFor(() => !h.sim.isBlacklisted(DOMAIN, APP, 's1') && !h.sim.isBlacklisted(DOMAIN, APP, 's2'), 15_000, 's1 and s2 lifted');
  });

  it('refuses --until in the past, --for with --until, and a malformed target: exit 2, nothing enqueued', async () => {
    const past = await runCli(['ban', target('p1'), '--until', '2020-01-01T00:00:00Z', '--batch', 'past'], env);
    expect(past.code).toBe(2);
    expect(past.output).toContain('--until must be in the future');
    const both = await runCli(['ban', target('p1'), '--for', '2h', '--until', '2030-01-01T00:00:00Z', '--batch', 'past'], env);
    expect(both.code).toBe(2);
    expect(both.output).toContain('--for and --until exclude each other');
    const malformed = await runCli(['ban', target('m1'), `${DOMAIN}/${APP}`, '--batch', 'malformed'], env);
    expect(malformed.code).toBe(2);
    expect(malformed.output).toContain(`DOMAIN/APP/STREAM: three non-empty parts (got "${DOMAIN}/${APP}")`);
    expect([await batchExists('past'), await batchExists('malformed')]).toEqual([false, false]);
  });

  it('reports an invalid domain like enqueue does and enqueues the valid target: exit 1', async () => {
    const run = await runCli(['ban', 'bad_domain/app/v1', target('v2'), '--batch', 'mixed', '--json'], env);
    expect(run.code, run.output).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ batch: 'mixed', enqueued: 1, invalid: 1, invalidTargets: [{ target: 'bad_domain/app/v1', errors: [{ field: 'DomainName' }] }] });
    expect((await h.runtime.batches.show('mixed')).jobs).toBe(1);
    await waitFor(() => h.sim.isBlacklisted(DOMAIN, APP, 'v2'), 15_000, 'v2 blacklisted');
  });
});

describe('the command as a whole', () => {
  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const run = await runCli(['--version'], {});
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  });

  it('a nested subcommand\'s --help shows the global options', async () => {
    const run = await runCli(['batch', 'undo', '--help'], {});
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Global Options:[\s\S]*--redis-url <url>[\s\S]*--prefix <prefix>[\s\S]*--account <name>/);
  });

  it('dlq purge --all needs --confirm with the count matched; without it exit 2 and nothing purged', async () => {
    const entry = (id: string) => ({
      id, operation: 'ForbidLiveStream' as const, params: { DomainName: DOMAIN, AppName: APP, StreamName: id, LiveStreamType: 'publisher' as const }, priority: 'normal' as const,
      reason: 'terminal' as const, code: 'IllegalOperation', message: 'nope', httpStatus: 401, requestId: 'R', attempts: 1, firstFailedAt: 1, lastFailedAt: 2,
    });
    await h.deadLetters.add(entry('forbid.default.d1'));
    await h.deadLetters.add(entry('forbid.default.d2'));
    const refused = await runCli(['dlq', 'purge', '--all'], env);
    expect(refused.code).toBe(2);
    expect(refused.output).toContain('2 entries would be purged; nothing was purged; to purge them: livequeue dlq purge --all --confirm 2');
    const tooFew = await runCli(['dlq', 'purge', '--all', '--confirm', '1', '--reason', 'clean up'], env);
    expect(tooFew.code).toBe(2);
    expect(tooFew.output).toContain("more than the 1 confirmed; nothing was purged; to purge them: livequeue dlq purge --all --reason 'clean up' --confirm 2");
    expect(await h.deadLetters.count()).toBe(2);
    const dry = await runCli(['dlq', 'purge', '--all', '--dry-run', '--json'], env);
    expect(JSON.parse(dry.stdout)).toMatchObject({ wouldPurge: 2, dryRun: true });
    const purged = await runCli(['dlq', 'purge', '--all', '--confirm', '2'], env);
    expect(purged.code, purged.output).toBe(0);
    expect(purged.stdout.trim()).toBe('purged 2 entries');
    expect(await h.deadLetters.count()).toBe(0);
  });

  it('exits 3 when Redis is out of reach', async () => {
    const run = await runCli(['ban', target('r1'), '--redis-url', 'redis://127.0.0.1:1', '--json'], env);
    expect(run.code).toBe(3);
    expect(run.output).toContain('Redis is not reachable (redis://127.0.0.1:1)');
    expect(JSON.parse(run.stdout)).toMatchObject({ error: 'redis-unavailable' });
  });
});
