import { QUOTA_SHARE_GOAL, QUOTA_SHARE_TARGET, type ResultRow } from '../lib/result.ts';
import { pacing } from '../lib/measure.ts';
import { start, stop, waitFor, type Proc } from '../lib/procs.ts';
import { BASELINE_WORKER, bans, LIVEQUEUE_WORKER, newRun, type System } from '../lib/setup.ts';

interface OutageFigures {
  okPerSecondAfter: number;
  maxPerSecond: number;
  maxPerSecondAfter: number;
}

/** A backlog meets an InternalError outage, then the API recovers. */
async function drain(system: System, jobs: number, outageMs: number): Promise<OutageFigures> {
  // The same schedule for all three: exponential from 1 s, capped at 5 s (the
  // stock workers through a custom backoff strategy), 60 attempts, so every
  // system comes back soon after the outage.
  const run = await newRun(system, { latencyMs: { min: 10, max: 30 } }, { RETRY_ATTEMPTS: '60', RETRY_BASE_DELAY_MS: '1000', RETRY_MAX_DELAY_MS: '5000' });
  const procs: Proc[] = [];
  try {
    await run.enqueue('ForbidLiveStream', bans(jobs, 'outage'));
    const outageEnd = Date.now() + outageMs;
    run.sim.setFaults({ outage: { untilMs: outageEnd } });
    procs.push(system === 'livequeue' ? start([LIVEQUEUE_WORKER], run.workerEnv({ METRICS_PORT: '0' })) : start([BASELINE_WORKER], run.workerEnv()));
    await waitFor(async () => (await run.pending()) === 0, (outageMs + jobs * 200 + 120_000), `${system} drain`);
    const calls = run.sim.calls();
    // Recovery is judged once the retries scheduled during the outage have had time to come back.
    const after = calls.filter((c) => c.at > outageEnd + 5000);
    return { okPerSecondAfter: pacing(after).okPerSecond, maxPerSecond: pacing(calls).maxPerSecond, maxPerSecondAfter: pacing(after).maxPerSecond };
  } finally {
    await stop(procs);
    await run.close();
  }
}

export async function outageScenario(jobs: number, outageMs: number): Promise<ResultRow[]> {
  const b = await drain('baseline', jobs, outageMs);
  const sp = await drain('spaced', jobs, outageMs);
  const o = await drain('livequeue', jobs, outageMs);
  const name = `recovery after a ${outageMs / 1000} s InternalError outage, ${jobs}-job backlog`;
  return [
    { scenario: name, measure: 'calls/s after recovery ÷ QPS', baseline: b.okPerSecondAfter / 20, spaced: sp.okPerSecondAfter / 20, livequeue: o.okPerSecondAfter / 20, unit: 'ratio', target: QUOTA_SHARE_TARGET, met: o.okPerSecondAfter / 20 >= QUOTA_SHARE_GOAL },
    { scenario: name, measure: 'most calls in any rolling second', baseline: b.maxPerSecond, spaced: sp.maxPerSecond, livequeue: o.maxPerSecond, unit: 'calls', target: '<= 20', met: o.maxPerSecond <= 20 },
  ];
}
