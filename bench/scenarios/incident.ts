import type { ResultRow } from '../lib/result.ts';
import { start, stop, waitFor, type Proc } from '../lib/procs.ts';
import { maxInAnyWindow, type CallRecord } from '../../src/sim/index.ts';
import { BASELINE_WORKER, bans, LIVEQUEUE_WORKER, newRun, type System } from '../lib/setup.ts';

const QPS = 20;
/**
 * A retry window far shorter than the outage, for both systems: 4 attempts,
 * 250 ms doubling (livequeue caps its delay at 1 s; BullMQ's exponential
 * backoff has no cap, and at 4 attempts it never reaches one).
 */
const COMPRESSED_RETRIES = { RETRY_ATTEMPTS: '4', RETRY_BASE_DELAY_MS: '250', RETRY_MAX_DELAY_MS: '1000' };

interface IncidentFigures {
  givenUp: number;
  /** Calls made during the outage ÷ the calls full rate would have made. */
  callsIntoOutage: number;
  /** Ms from the outage's end to the first rolling second at ≥ 0.9 of the QPS; NaN if never. */
  recoveryMs: number;
  maxPerSecond: number;
}

/** Ms after `from` when successful calls first reach 90% of the QPS within one second. */
function recoveryAfter(calls: CallRecord[], from: number): number {
  const ok = calls.filter((c) => c.code === 'OK' && c.at >= from).map((c) => c.at);
  const needed = Math.ceil(0.9 * QPS);
  for (let i = 0; i + needed - 1 < ok.length; i++) if (ok[i + needed - 1]! - ok[i]! <= 1000) return ok[i]! - from;
  return Number.NaN;
}

/** A backlog meets a long InternalError outage with a compressed retry window, then the API recovers. */
async function drain(system: System, jobs: number, outageMs: number): Promise<IncidentFigures> {
  const run = await newRun(system, { latencyMs: { min: 10, max: 30 } }, COMPRESSED_RETRIES);
  const procs: Proc[] = [];
  try {
    await run.enqueue('ForbidLiveStream', bans(jobs, 'incident'));
    const outageStart = Date.now();
    const outageEnd = outageStart + outageMs;
    run.sim.setFaults({ outage: { untilMs: outageEnd } });
    procs.push(start([system === 'livequeue' ? LIVEQUEUE_WORKER : BASELINE_WORKER], run.workerEnv({ METRICS_PORT: '0' })));
    await waitFor(async () => (await run.pending()) === 0, outageMs + jobs * 200 + 120_000, `${system} drain`);
    const calls = run.sim.calls();
    const intoOutage = calls.filter((c) => c.at < outageEnd).length;
    return {
      givenUp: await run.givenUp(),
      callsIntoOutage: intoOutage / ((QPS * outageMs) / 1000),
      recoveryMs: recoveryAfter(calls, outageEnd),
      maxPerSecond: maxInAnyWindow(calls.map((c) => c.at)),
    };
  } finally {
    await stop(procs);
    await run.close();
  }
}

export async function incidentScenario(jobs: number, outageMs: number): Promise<ResultRow[]> {
  const b = await drain('baseline', jobs, outageMs);
  const o = await drain('livequeue', jobs, outageMs);
  const name = `incident: ${outageMs / 1000} s InternalError outage, ${jobs}-job backlog, 4 attempts 250 ms apart`;
  return [
    { scenario: name, measure: 'jobs given up (dead-lettered / failed)', baseline: b.givenUp, livequeue: o.givenUp, unit: 'jobs', target: '0', met: o.givenUp === 0 },
    { scenario: name, measure: 'calls into the outage ÷ full rate', baseline: b.callsIntoOutage, livequeue: o.callsIntoOutage, unit: 'ratio', target: '<= 0.05', met: o.callsIntoOutage <= 0.05 },
    { scenario: name, measure: 'outage end → 90% of the QPS again', baseline: b.recoveryMs / 1000, livequeue: o.recoveryMs / 1000, unit: 's', target: '<= 5', met: o.recoveryMs <= 5000, note: Number.isNaN(b.recoveryMs) ? 'BullMQ: no backlog left to recover' : undefined },
    { scenario: name, measure: 'most calls in any rolling second', baseline: b.maxPerSecond, livequeue: o.maxPerSecond, unit: 'calls', target: '<= 20', met: o.maxPerSecond <= QPS },
  ];
}
