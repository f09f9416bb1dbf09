import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { selectedRuntime, type AccountRuntime } from '../src/app/runtime.ts';
import { classifyFailure } from '../src/catalog/error-codes.ts';
import { queueName } from '../src/queue/names.ts';
import type { OperationStatus } from '../src/ledger/status.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, statusOf, type Harness } from './helpers/harness.ts';
import { freePort } from './helpers/http.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { startSimulatorProcess, type SimulatorProcess } from './helpers/simulator-process.ts';
import { deleteKeys, newRedis, REDIS_URL, testConfig, uniquePrefix } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * A fault is as wide as its cause. A domain the account does not own, a
 * host with a stale secret, one sick job: each stops what it is about and
 * nothing more, with `livequeue worker` as users start it (no flags).
 */
const DOMAIN = 'demo.aliyundoc.com';
const redis = newRedis();
let sim: SimulatorProcess;
let workers: RunningProcess[] = [];
let prefixes: string[] = [];
let runtimes: AccountRuntime[] = [];
let h: Harness | undefined;

beforeAll(async () => {
  sim = await startSimulatorProcess(['--latency', '5-15'], { ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET });
});
afterEach(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  workers = [];
  await Promise.all(runtimes.map((r) => r.close()));
  runtimes = [];
  for (const prefix of prefixes) await deleteKeys(redis, prefix);
  prefixes = [];
  await h?.close();
  h = undefined;
  await sim.control('rules/clear', {});
  await sim.control('reset', {});
});
afterAll(async () => {
  await sim.stop();
  redis.disconnect();
});

/** The environment `livequeue` runs in, as a deployment sets it: no flags. */
function deployment(name: string, extra: Record<string, string> = {}) {
  const prefix = uniquePrefix(name);
  prefixes.push(prefix);
  const env = {
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    LIVE_ENDPOINT: sim.endpoint,
    ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET,
    METRICS_PORT: '0',
    ...extra,
  };
  const runtime = selectedRuntime(redis, testConfig(prefix, { LIVE_ENDPOINT: sim.endpoint }));
  runtimes.push(runtime);
  return { env, runtime };
}

async function startWorker(env: Record<string, string>): Promise<RunningProcess> {
  const worker = startCli(['worker'], env);
  workers.push(worker);
  await waitForOutput(worker, (o) => o.includes('workers started'));
  return worker;
}

const jsonl = (records: object[]) => records.map((r) => JSON.stringify(r)).join('\n');
const ban = (domain: string, stream: string) => ({ DomainName: domain, AppName: 'liveApp', StreamName: stream });

async function drained(runtime: AccountRuntime, expected: number, timeoutMs = 40_000): Promise<OperationStatus> {
  let row: OperationStatus | undefined;
  await waitFor(
    async () => {
      row = (await runtime.status()).find((r) => r.operation === 'ForbidLiveStream')!;
      return row.applied + row.alreadyApplied + row.deadLettered >= expected && row.waiting + row.delayed + row.active === 0;
    },
    timeoutMs,
    `${expected} bans ended`,
  );
  return row!;
}

describe('a code nobody listed is decided by evidence', () => {
  it('the table names the Live API\'s not-found codes as the job\'s own: dead-lettered at once', () => {
    for (const code of ['InvalidDomain.NotFound', 'AppInfoNotExist', 'InvalidStream.NotFound']) {
      expect(classifyFailure({ code, httpStatus: 404, network: false, requestId: 'r' }).outcome).toBe('dead-letter');
    }
    // The same unknown code: the API's own answer about the request is the job's; a proxy's page is the service's.
    expect(classifyFailure({ code: 'Domain.Unowned', httpStatus: 404, network: false, requestId: 'r' }).outcome).toBe('refused');
    expect(classifyFailure({ code: 'HTTP404', httpStatus: 404, network: false, bodyNotJson: true }).outcome).toBe('systemic');
    expect(classifyFailure({ code: 'Domain.Unowned', httpStatus: 404, network: false }).outcome).toBe('systemic');
  });

  it('bans for a domain the account does not own, ahead of valid bans: every valid ban is applied, the impossible ones are dead-lettered with their code, and replay sends them again', async () => {
    const { env, runtime } = deployment('typo', { RETRY_ATTEMPTS: '3', RETRY_BASE_DELAY_MS: '100', RETRY_MAX_DELAY_MS: '200' });
    await sim.control('rules', { action: 'ForbidLiveStream', match: { DomainName: 'typo.aliyundoc.com' }, code: 'Domain.NotOwned', status: 404, message: 'The domain is not owned by this account.' });
    const worker = await startWorker(env);
    const bad = Array.from({ length: 20 }, (_, i) => ban('typo.aliyundoc.com', `typo-${i}`));
    const good = Array.from({ length: 60 }, (_, i) => ban(DOMAIN, `good-${i}`));
    const enqueued = await runCli(['enqueue', 'forbid', '--file', '-', '--format', 'jsonl', '--batch', 'mixed'], env, jsonl([...bad, ...good]));
    expect(enqueued.code).toBe(0);

    const row = await drained(runtime, 80);
    expect(row).toMatchObject({ applied: 60, deadLettered: 20, hold: null });
    const entries = await runtime.deadLetters.list({});
    expect(new Set(entries.map((e) => e.code))).toEqual(new Set(['Domain.NotOwned']));
    expect(entries.every((e) => e.attempts === 3 && e.reason === 'retries-exhausted' && e.requestId)).toBe(true);
    // One domain's refusals never held the operation.
    expect(worker.output()).not.toMatch(/ held \(/);

    // The domain is added to the account: the dead letters are replayed by their code.
    await sim.control('rules/clear', {});
    const replay = await runCli(['dlq', 'replay', '--code', 'Domain.NotOwned'], env);
    expect(replay.code).toBe(0);
    await waitFor(async () => (await runtime.status())[0]!.applied === 80, 20_000, 'the replayed bans applied');
    expect((await runtime.status())[0]).toMatchObject({ deadLettered: 0, waiting: 0, delayed: 0 });
  });

  it('one code refusing different domains holds the operation; jobs of the refused domains go on their own attempts, a job of another domain probes, and its good answer releases the hold', async () => {
    const { env, runtime } = deployment('spread', { RETRY_ATTEMPTS: '3', RETRY_BASE_DELAY_MS: '100', RETRY_MAX_DELAY_MS: '200', HOLD_PROBE_MS: '300', HOLD_PROBE_MAX_MS: '1000' });
    const domains = ['typo-a.aliyundoc.com', 'typo-b.aliyundoc.com', 'typo-c.aliyundoc.com'];
    for (const domain of domains) await sim.control('rules', { action: 'ForbidLiveStream', match: { DomainName: domain }, code: 'Domain.NotOwned', status: 404 });
    const worker = await startWorker(env);
    const bad = Array.from({ length: 24 }, (_, i) => ban(domains[i % 3]!, `spread-${i}`));
    const good = Array.from({ length: 40 }, (_, i) => ban(DOMAIN, `good-${i}`));
    expect((await runCli(['enqueue', 'forbid', '--file', '-', '--format', 'jsonl'], env, jsonl([...bad, ...good]))).code).toBe(0);

    const row = await drained(runtime, 64);
    expect(row).toMatchObject({ applied: 40, deadLettered: 24 });
    // The next good ban probes and ends whatever hold the last refusals left.
    expect((await runCli(['enqueue', 'forbid', '--file', '-', '--format', 'jsonl'], env, jsonl([ban(DOMAIN, 'later')]))).code).toBe(0);
    expect(await drained(runtime, 65)).toMatchObject({ applied: 41, deadLettered: 24, hold: null });
    // It held, named the code and an example of what it refused, and the first good probe released it.
    expect(worker.output()).toMatch(/ForbidLiveStream held \(systemic\): Domain\.NotOwned, e\.g\. for typo-[abc]\.aliyundoc\.com\/liveApp/);
    expect(worker.output()).toMatch(/hold released: a call succeeded again/);
    // A probe never went to the same failing job twice in a row.
    const calls = (await sim.calls()).filter((c) => c.action === 'ForbidLiveStream');
    for (let i = 1; i < calls.length; i++) {
      if (calls[i]!.code !== 'OK') expect(`${calls[i]!.params.StreamName}`).not.toBe(`${calls[i - 1]!.params.StreamName}`);
    }
  });

  it('one job failing with 5xx more often than HOLD_TRIP_AFTER is that job\'s: dead-lettered after its attempts, never a hold', async () => {
    h = await startHarness('onesick', { RETRY_ATTEMPTS: '6', RETRY_BASE_DELAY_MS: '20', RETRY_MAX_DELAY_MS: '40', HOLD_TRIP_AFTER: '3' });
    h.sim.script({ action: 'ForbidLiveStream', match: { StreamName: 'sick' }, code: 'InternalError', status: 500 });
    const [sick] = await h.intake.add('ForbidLiveStream', [{ params: ban(DOMAIN, 'sick') }]);
    h.startWorkers({ operations: ['ForbidLiveStream'] });
    const rows = await h.drained(1);
    expect(statusOf(rows, 'ForbidLiveStream')).toMatchObject({ deadLettered: 1, hold: null });
    const [entry] = await h.deadLetters.list({});
    expect(entry).toMatchObject({ id: sick!.status === 'enqueued' ? sick!.jobId : '', code: 'InternalError', reason: 'retries-exhausted', attempts: 6 });
    expect(h.sim.calls().length).toBe(6);
  });
});

describe('a host-local fault stays local', () => {
  it('one of two worker processes with a wrong secret: it holds itself within seconds, says so, and the other drains the account with no account hold', async () => {
    const { env, runtime } = deployment('stale');
    const metricsPort = await freePort();
    const stale = await startWorker({ ...env, ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'rotated-away-secret', METRICS_PORT: String(metricsPort) });
    const healthy = await startWorker(env);
    const bans = Array.from({ length: 80 }, (_, i) => ban(DOMAIN, `stale-${i}`));
    expect((await runCli(['enqueue', 'forbid', '--file', '-', '--format', 'jsonl'], env, jsonl(bans))).code).toBe(0);

    // While it holds itself, status names the process, and its gauge says so.
    await waitForOutput(stale, (o) => o.includes('this process holds itself'));
    const status = await runCli(['status', '--json'], env);
    const held = (JSON.parse(status.stdout) as OperationStatus[])[0]!.heldProcesses;
    expect(held).toEqual([expect.objectContaining({ code: 'SignatureDoesNotMatch', pid: stale.child.pid })]);
    expect(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).toMatch(/^livequeue_process_held\{account="default"\} 1$/m);

    const row = await drained(runtime, 80);
    expect(row).toMatchObject({ applied: 80, deadLettered: 0, hold: null });
    const calls = (await sim.calls()).filter((c) => c.action === 'ForbidLiveStream');
    const wrongSignatures = calls.filter((c) => c.code === 'SignatureDoesNotMatch');
    // The calls already on their way when the first answer came, and a probe every few seconds.
    expect(wrongSignatures.length).toBeGreaterThanOrEqual(1);
    expect(wrongSignatures.length).toBeLessThanOrEqual(10);
    expect(calls.filter((c) => c.code === 'OK')).toHaveLength(80);
    for (const w of [stale, healthy]) expect(w.output()).not.toMatch(/ held \(credentials\)/);
  });

  it('a single process whose secret is wrong holds itself, then the account: no process of the account succeeds', async () => {
    const { env, runtime } = deployment('alone', { HOLD_PROBE_MS: '300', HOLD_PROBE_MAX_MS: '600' });
    const stale = await startWorker({ ...env, ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'rotated-away-secret' });
    const bans = Array.from({ length: 20 }, (_, i) => ban(DOMAIN, `alone-${i}`));
    expect((await runCli(['enqueue', 'forbid', '--file', '-', '--format', 'jsonl'], env, jsonl(bans))).code).toBe(0);
    await waitFor(async () => (await runtime.status())[0]!.hold !== null, 15_000, 'an account hold');
    expect((await runtime.status())[0]!.hold).toMatchObject({ reason: 'credentials', code: 'SignatureDoesNotMatch', target: `${DOMAIN}/liveApp` });
    expect(stale.output()).toMatch(/ForbidLiveStream held \(credentials\): SignatureDoesNotMatch, e\.g\. for demo\.aliyundoc\.com\/liveApp, and no process of the account succeeds/);
    const row = (await runtime.status())[0]!;
    expect(row.deadLettered + row.applied).toBe(0);
    expect(row.waiting + row.delayed + row.active).toBe(20);
  });
});

describe('resume releases every ban held for the blacklist', () => {
  it('with 1,200 held, all go', async () => {
    const { env, runtime } = deployment('release');
    const queue = new Queue(queueName('ForbidLiveStream'), { connection: redis, prefix: runtime.prefix });
    const jobs = await queue.addBulk(Array.from({ length: 1200 }, (_, i) => ({ name: 'ForbidLiveStream', data: ban(DOMAIN, `held-${i}`), opts: { jobId: `held-${i}`, delay: 3_600_000 } })));
    // As the worker leaves a ban it held for a full blacklist.
    await Promise.all(jobs.map((job) => job.updateProgress({ heldFor: 'blacklist' })));
    const resumed = await runCli(['resume', 'forbid'], env);
    expect(resumed.stdout).toContain('released 1200 bans held for the blacklist');
    expect(await queue.getDelayedCount()).toBe(0);
    expect(await queue.getWaitingCount()).toBe(1200);
    await queue.close();
  });
});
