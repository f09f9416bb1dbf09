import { OPERATIONS, type Operation } from '../../src/catalog/operations.ts';
import type { HostPort } from '../../src/redis.ts';
import type { FaultsInput } from '../../src/sim/index.ts';
import { pacing, type PacingFigures } from '../lib/measure.ts';
import { start, stop, waitFor, type Proc } from '../lib/procs.ts';
import { QUOTA_SHARE_GOAL, QUOTA_SHARE_TARGET, type ResultRow } from '../lib/result.ts';
import { BASELINE_WORKER, bans, LIVEQUEUE_WORKER, monitorStops, newRun, type System } from '../lib/setup.ts';

export interface PacingOptions {
  name: string;
  jobs: number;
  processes: number;
  operations: readonly Operation[];
  /** On this Redis Cluster instead of the single node. */
  cluster?: readonly HostPort[];
  /** Faults the simulator injects (e.g. lone throttles at random); their calls are not the pacing's to avoid. */
  faults?: FaultsInput;
}

export interface PacingRun {
  figures: Partial<Record<Operation, PacingFigures>>;
  qps: Record<Operation, number>;
  peakRssMb: number;
}

export async function pacingDrain(system: System, options: PacingOptions): Promise<PacingRun> {
  const run = await newRun(system, { latencyMs: { min: 10, max: 30 } }, process.env.BENCH_MARGIN ? { PACING_MARGIN_MS: process.env.BENCH_MARGIN } : {}, { cluster: options.cluster });
  const procs: Proc[] = [];
  try {
    if (options.faults) run.sim.setFaults(options.faults);
    if (options.operations.includes('ForbidLiveStream')) await run.enqueue('ForbidLiveStream', bans(options.jobs, 'pacing'));
    // Monitor stops get half as many jobs: they drain at half the QPS, so both finish together.
    if (options.operations.includes('StopLiveStreamMonitor')) await run.enqueue('StopLiveStreamMonitor', monitorStops(run.sim, Math.round(options.jobs / 2)));
    for (let i = 0; i < options.processes; i++) {
      procs.push(
        system === 'livequeue'
          ? start([LIVEQUEUE_WORKER], run.workerEnv({ WORKER_CONCURRENCY: '16', METRICS_PORT: '0' }))
          : start([BASELINE_WORKER], run.workerEnv({ OPERATIONS: options.operations.join(','), WORKER_CONCURRENCY: '16' })),
      );
    }
    const expectedSeconds = options.jobs / 20;
    await waitFor(async () => (await run.pending()) === 0, (expectedSeconds * 3 + 60) * 1000, `${system} drain`);
    const calls = run.sim.calls();
    const figures: PacingRun['figures'] = {};
    for (const op of options.operations) figures[op] = pacing(calls.filter((c) => c.action === op));
    return { figures, qps: run.runtime.settings.qps, peakRssMb: Math.max(...procs.map((p) => p.peakRssMb())) };
  } finally {
    await stop(procs);
    await run.close();
  }
}

export async function pacingScenario(options: PacingOptions, withRss = false): Promise<ResultRow[]> {
  const baseline = await pacingDrain('baseline', options);
  const spaced = await pacingDrain('spaced', options);
  const ours = await pacingDrain('livequeue', options);
  const rows: ResultRow[] = [];
  for (const op of OPERATIONS.filter((o) => options.operations.includes(o))) {
    const b = baseline.figures[op]!;
    const sp = spaced.figures[op]!;
    const o = ours.figures[op]!;
    const qps = ours.qps[op];
    const label = options.operations.length > 1 ? ` (${op})` : '';
    rows.push(
      { scenario: options.name, measure: `achieved calls/s ÷ QPS${label}`, baseline: b.okPerSecond / qps, spaced: sp.okPerSecond / qps, livequeue: o.okPerSecond / qps, unit: 'ratio', target: QUOTA_SHARE_TARGET, met: o.okPerSecond / qps >= QUOTA_SHARE_GOAL },
      options.faults
        ? { scenario: options.name, measure: `throttled calls ÷ all calls (injected ones included)${label}`, baseline: b.throttledShare, spaced: sp.throttledShare, livequeue: o.throttledShare, unit: 'share', target: 'report', met: true }
        : { scenario: options.name, measure: `throttled calls ÷ all calls${label}`, baseline: b.throttledShare, spaced: sp.throttledShare, livequeue: o.throttledShare, unit: 'share', target: '<= 0.002', met: o.throttledShare <= 0.002 },
      { scenario: options.name, measure: `most calls in any rolling second${label}`, baseline: b.maxPerSecond, spaced: sp.maxPerSecond, livequeue: o.maxPerSecond, unit: 'calls', target: `<= ${qps}`, met: o.maxPerSecond <= qps },
    );
  }
  if (withRss) {
    rows.push({ scenario: 'worker process', measure: 'peak RSS while draining', baseline: baseline.peakRssMb, livequeue: ours.peakRssMb, unit: 'MB', target: '<= 150', met: ours.peakRssMb <= 150 });
  }
  return rows;
}
