import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectedRuntime, type AccountRuntime } from '../src/app/runtime.ts';
import type { Operation } from '../src/catalog/operations.ts';
import { maxInAnyWindow, type SimStats } from '../src/sim/index.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET } from './helpers/harness.ts';
import { startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { startSimulatorProcess, type SimulatorProcess } from './helpers/simulator-process.ts';
import { deleteKeys, newRedis, REDIS_URL, testConfig, uniquePrefix } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The pacing promise with real processes: three worker processes share the
 * account's buckets through Redis. The simulator runs in a process of its own,
 * as the real API does, so that its arrival times are not those of a busy
 * test runner. It counts every arrival in a strict rolling second and must
 * never have to answer Throttling, while the buckets stay busy.
 */
const BANS = 240;
const MONITOR_STOPS = 120;

const redis = newRedis();
const prefix = uniquePrefix('multiproc');
let sim: SimulatorProcess;
let runtime: AccountRuntime;
let workers: RunningProcess[] = [];

beforeAll(async () => {
  sim = await startSimulatorProcess(['--latency', '10-30'], { ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET });
  runtime = selectedRuntime(redis, testConfig(prefix, { LIVE_ENDPOINT: sim.endpoint }));
});
afterAll(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await sim.stop();
  await runtime.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const DRAINED: readonly Operation[] = ['ForbidLiveStream', 'StopLiveStreamMonitor'];

describe('several worker processes sharing the buckets', () => {
  it('never draw a Throttling answer, and every call goes through', async () => {
    const env = {
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      LIVE_ENDPOINT: sim.endpoint,
      ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET,
      LOG_LEVEL: 'info',
      WORKER_CONCURRENCY: '8',
      METRICS_PORT: '0',
    };
    workers = [0, 1, 2].map(() => startCli(['worker'], env));
    await Promise.all(workers.map((w) => waitForOutput(w, (o) => o.includes('workers started'))));
    // The whole backlog at once, so all three workers draw from the buckets together.
    const bans = Array.from({ length: BANS }, (_, i) => ({ params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `mp-${i}` } }));
    const { monitorIds } = await sim.control<{ monitorIds: string[] }>('monitors', { count: MONITOR_STOPS });
    await Promise.all([runtime.intake.add('ForbidLiveStream', bans), runtime.intake.add('StopLiveStreamMonitor', monitorIds.map((MonitorId) => ({ params: { MonitorId } })))]);
    await waitFor(async () => (await runtime.status()).filter((r) => DRAINED.includes(r.operation)).every((r) => r.applied + r.alreadyApplied + r.deadLettered >= (r.operation === 'ForbidLiveStream' ? BANS : MONITOR_STOPS) && r.waiting + r.delayed + r.active === 0), 60_000, 'drained');

    const rows = await runtime.status();
    const calls = await sim.calls();
    const stats = await sim.control<SimStats>('stats');
    for (const op of DRAINED) {
      const row = rows.find((r) => r.operation === op)!;
      expect(row.applied).toBe(op === 'ForbidLiveStream' ? BANS : MONITOR_STOPS);
      expect(row.throttled).toBe(0);
      const arrivals = calls.filter((c) => c.action === op).map((c) => c.at).sort((a, b) => a - b);
      expect(stats.actions[op].byCode['Throttling.User'] ?? 0).toBe(0);
      expect(maxInAnyWindow(arrivals, 1000)).toBeLessThanOrEqual(runtime.settings.qps[op]);
      // How busy the buckets stayed is a rate: `npm run bench` measures it (pacing scenario), not a test.
    }

    // Every process took part.
    for (const w of workers) expect(w.output()).toMatch(/"msg":"applied"/);

    // SIGTERM: each finishes in-flight calls and exits 0, leaving nothing active.
    for (const w of workers) w.child.kill('SIGTERM');
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0]);
    for (const row of await runtime.status()) expect(row.active).toBe(0);

    // The secret never reaches a log line.
    for (const w of workers) expect(w.output()).not.toContain(ACCESS_KEY_SECRET);
  });
});
