import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../src/live/operations.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, statusOf, type Harness } from './helpers/harness.ts';
import { startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';
import { maxInAnyWindow } from '../src/sim/index.ts';

/**
 * The pacing promise with real processes: three worker processes share the
 * account's buckets through Redis. The simulator counts every arrival in a
 * strict rolling second and must never have to answer Throttling, while the
 * buckets stay busy.
 */
const BANS = 240;
const MONITOR_STOPS = 120;

let h: Harness;
let workers: RunningProcess[] = [];
beforeAll(async () => {
  h = await startHarness('multiproc', {}, { latencyMs: { min: 10, max: 30 } });
});
afterAll(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await h.close();
});

describe('several worker processes sharing the buckets', () => {
  it('never draw a Throttling answer and keep both buckets busy', async () => {
    const env = {
      REDIS_URL,
      QUEUE_PREFIX: h.config.prefix,
      LIVE_ENDPOINT: h.endpoint,
      ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET,
      LOG_LEVEL: 'info',
      WORKER_CONCURRENCY: '8',
      // The simulator runs inside the test runner on a two-core machine shared
      // with three workers; when it is short of CPU it timestamps arrivals late.
      // The margin is the setting for exactly that jitter (README, "How pacing
      // works"); the default suffices when this file runs alone.
      PACING_MARGIN_MS: '30',
      METRICS_PORT: '0',
    };
    workers = [0, 1, 2].map(() => startCli(['worker'], env));
    await Promise.all(workers.map((w) => waitForOutput(w, (o) => o.includes('workers started'))));
    // The whole backlog at once, so all three workers draw from the buckets together.
    const bans = Array.from({ length: BANS }, (_, i) => ({ params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `mp-${i}` } }));
    const monitors = h.sim.createMonitors(MONITOR_STOPS).map((MonitorId) => ({ params: { MonitorId } }));
    await Promise.all([h.producer.enqueueBatch('ForbidLiveStream', bans), h.producer.enqueueBatch('StopLiveStreamMonitor', monitors)]);
    const rows = await h.drained(BANS + MONITOR_STOPS, 60_000);

    for (const op of OPERATIONS) {
      const row = statusOf(rows, op);
      expect(row.applied).toBe(op === 'ForbidLiveStream' ? BANS : MONITOR_STOPS);
      expect(row.throttled).toBe(0);
      const arrivals = h.sim.calls().filter((c) => c.action === op).map((c) => c.at).sort((a, b) => a - b);
      expect(h.sim.stats().actions[op].byCode['Throttling.User'] ?? 0).toBe(0);
      expect(maxInAnyWindow(arrivals, 1000)).toBeLessThanOrEqual(h.runtime.settings.qps[op]);
      // Busy buckets: the drain ran at no less than 90% of the quota.
      const achieved = (arrivals.length - 1) / ((arrivals.at(-1)! - arrivals[0]!) / 1000);
      expect(achieved).toBeGreaterThan(0.9 * h.runtime.settings.qps[op]);
    }

    // Every process took part.
    for (const w of workers) expect(w.output()).toMatch(/"msg":"applied"/);

    // SIGTERM: each finishes in-flight calls and exits 0, leaving nothing active.
    for (const w of workers) w.child.kill('SIGTERM');
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0]);
    for (const row of await h.status()) expect(row.active).toBe(0);

    // The secret never reaches a log line.
    for (const w of workers) expect(w.output()).not.toContain(ACCESS_KEY_SECRET);
  });
});
