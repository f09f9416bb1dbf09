import { afterEach, describe, expect, it } from 'vitest';
import { LocalRedisServer } from '../src/local-redis.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, statusOf, type Harness } from './helpers/harness.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';
import { startSimulatorProcess, type SimulatorProcess } from './helpers/simulator-process.ts';
import { maxInAnyWindow } from '../src/sim/index.ts';
import { waitFor } from './helpers/wait.ts';

/** Crashes and restarts: killed workers and a restarted Redis lose no job. */
let h: Harness | undefined;
let redisServer: LocalRedisServer | undefined;
let simProcess: SimulatorProcess | undefined;
let workers: RunningProcess[] = [];
afterEach(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  workers = [];
  await simProcess?.stop();
  simProcess = undefined;
  await h?.close();
  h = undefined;
  await redisServer?.stop();
  redisServer = undefined;
});

const bans = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `${prefix}-${i}` } }));

/**
 * Where pacing is checked, the workers call a simulator in a process of its own
 * (helpers/simulator-process.ts): in this process its arrival stamps would wait
 * for the test runner.
 */
const pacedSimulator = async (latency: string) =>
  (simProcess = await startSimulatorProcess(['--latency', latency], { ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET }));

function workerEnv(harness: Harness, redisUrl: string, endpoint = harness.endpoint): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: harness.config.prefix,
    LIVE_ENDPOINT: endpoint,
    ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET,
    LOG_LEVEL: 'info',
    JOB_LOCK_MS: '1500',
    WORKER_CONCURRENCY: '8',
    RETRY_BASE_DELAY_MS: '100',
    RETRY_MAX_DELAY_MS: '500',
    METRICS_PORT: '0',
  };
}

describe('a worker killed with SIGKILL mid-drain', () => {
  it('has its in-flight jobs taken over by another worker; every job ends applied or already applied', async () => {
    const sim = await pacedSimulator('200-300');
    h = await startHarness('sigkill', { LIVE_ENDPOINT: sim.endpoint });
    await h.intake.add('ForbidLiveStream', bans(80, 'kill'));
    const env = workerEnv(h, REDIS_URL, sim.endpoint);
    workers = [startCli(['worker'], env), startCli(['worker'], env)];
    await Promise.all(workers.map((w) => waitForOutput(w, (o) => o.includes('"msg":"applied"'))));
    workers[0]!.child.kill('SIGKILL');
    expect(await workers[0]!.exited).toBeNull();

    const rows = await h.drained(80, 60_000);
    const row = statusOf(rows, 'ForbidLiveStream');
    // A job killed between its answer and its completion runs again and counts once more, as already applied.
    expect(row.applied + row.alreadyApplied).toBeGreaterThanOrEqual(80);
    expect(row.waiting + row.active + row.delayed).toBe(0);
    expect(row.deadLettered).toBe(0);
    const calls = (await sim.calls()).filter((c) => c.action === 'ForbidLiveStream');
    expect(new Set(calls.filter((c) => c.code === 'OK').map((c) => c.params.StreamName)).size).toBe(80);
    expect(maxInAnyWindow(calls.map((c) => c.at), 1000)).toBeLessThanOrEqual(20);
  });
});

describe('Redis restarted mid-drain', () => {
  it('workers reconnect and finish the drain; a producer is told clearly that Redis is down', async () => {
    redisServer = await LocalRedisServer.start({ appendOnly: true });
    const sim = await pacedSimulator('5-15');
    h = await startHarness('restart', { REDIS_URL: redisServer.url, LIVE_ENDPOINT: sim.endpoint });
    // The harness's own connections point at the default Redis; this test drives its own.
    const url = redisServer.url;
    const env = workerEnv(h, url, sim.endpoint);
    const enqueued = await runCli(['enqueue', 'forbid', '--file', '-', '--json'], env, bans(100, 'restart').map((b) => JSON.stringify(b.params)).join('\n'));
    expect(JSON.parse(enqueued.stdout)).toMatchObject({ enqueued: 100 });
    workers = [startCli(['worker'], env)];
    await waitFor(async () => (await sim.calls()).length >= 20, 20_000, '20 calls before the restart');

    await redisServer.kill();
    const started = Date.now();
    const refused = await runCli(['enqueue', 'forbid', '--file', '-'], env, JSON.stringify(bans(1, 'while-down')[0]!.params));
    expect(refused.code).toBe(3);
    expect(refused.output).toContain(`Redis is not reachable (${url})`);
    expect(Date.now() - started).toBeLessThan(15_000);

    await new Promise((r) => setTimeout(r, 1000));
    await redisServer.restart();
    await waitFor(async () => {
      const status = await runCli(['status', '--json'], env);
      if (status.code !== 0) return false;
      const row = (JSON.parse(status.stdout) as { operation: string; applied: number; alreadyApplied: number; waiting: number; active: number; delayed: number }[])[0]!;
      // A job whose completion was lost with Redis runs again and counts once more, as already applied.
      return row.applied + row.alreadyApplied >= 100 && row.waiting + row.active + row.delayed === 0;
      // Each poll starts a CLI process: poll slowly, so that they do not starve the worker.
    }, 40_000, 'drained after the restart', 500);
    // The worker also reads the blacklist's size (DescribeLiveStreamsBlockList): only the bans count here.
    const banCalls = (await sim.calls()).filter((c) => c.action === 'ForbidLiveStream');
    expect(new Set(banCalls.filter((c) => c.code === 'OK').map((c) => c.params.StreamName)).size).toBe(100);
    expect(maxInAnyWindow(banCalls.map((c) => c.at), 1000)).toBeLessThanOrEqual(20);
    workers[0]!.child.kill('SIGTERM');
    expect(await workers[0]!.exited).toBe(0);
  });
});

describe('a worker whose Redis is unreachable', () => {
  it('reports the outage in a few structured lines, not a stack per reconnect, and stops at once on SIGTERM', async () => {
    redisServer = await LocalRedisServer.start();
    const url = redisServer.url;
    await redisServer.stop();
    redisServer = undefined;
    const worker = startCli(['worker'], {
      REDIS_URL: url, LIVE_ENDPOINT: 'http://127.0.0.1:9', ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET,
      LOG_LEVEL: 'info', METRICS_PORT: '0', SHUTDOWN_TIMEOUT_MS: '30000',
    });
    workers = [worker];
    await waitForOutput(worker, (o) => o.includes('workers started'));
    // Several seconds of reconnecting: every connection of the process fails many times over.
    await new Promise((r) => setTimeout(r, 4000));
    const lines = worker.output().split('\n').filter((l) => l.trim() !== '');
    expect(lines.every((l) => l.startsWith('{'))).toBe(true);
    expect(worker.output()).not.toMatch(/\n\s+at /);
    const outageLines = lines.filter((l) => l.includes('unreachable'));
    expect(outageLines.length).toBeGreaterThanOrEqual(1);
    expect(outageLines.length).toBeLessThanOrEqual(2);
    expect(JSON.parse(outageLines[0]!)).toMatchObject({ level: 40, msg: 'Redis unreachable: reconnecting; jobs wait in Redis and nothing is lost' });

    const stopping = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(5000);
    expect(worker.output()).toContain('Redis unreachable: stopping without waiting for in-flight jobs');
  });
});

describe('a job that keeps killing its workers', () => {
  it('is dead-lettered as worker-failure after 3 stalls, with its parameters for a replay', async () => {
    h = await startHarness('stalls', {}, { latencyMs: { min: 5000, max: 5000 } });
    const [added] = await h.intake.add('ForbidLiveStream', bans(1, 'poison'));
    const id = added!.status === 'enqueued' ? added!.jobId : '';
    const env = { ...workerEnv(h, REDIS_URL), JOB_LOCK_MS: '1000', WORKER_CONCURRENCY: '1' };
    const sim = h.sim;
    // Each worker takes the job, sends its call and dies before the answer: a stall every time.
    for (let kill = 1; kill <= 4; kill++) {
      const worker = startCli(['worker', '--operations', 'forbid'], env);
      workers.push(worker);
      await waitFor(() => sim.calls().length >= kill, 20_000, `call ${kill}`);
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
    // The next worker finds the fourth stall past maxStalledCount: BullMQ fails the job, and it is dead-lettered.
    workers.push(startCli(['worker', '--operations', 'forbid'], env));
    const harness = h;
    await waitFor(async () => (await harness.deadLetters.list()).length === 1, 20_000, 'the dead letter');
    const [entry] = await h.deadLetters.list();
    expect(entry).toMatchObject({ id, operation: 'ForbidLiveStream', reason: 'worker-failure', code: 'WorkerFailure', params: { StreamName: 'poison-0' } });
    expect(statusOf(await h.status(), 'ForbidLiveStream')).toMatchObject({ waiting: 0, active: 0, delayed: 0, deadLettered: 1 });
  });
});
