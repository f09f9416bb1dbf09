import { Queue } from 'bullmq';
import { performance } from 'node:perf_hooks';
import { resumeParamsOf, type ForbidParams } from '../../src/jobs/schemas.ts';
import { queueName } from '../../src/queue/names.ts';
import { pacing, type PacingFigures } from '../lib/measure.ts';
import { start, stop, waitFor, type Proc } from '../lib/procs.ts';
import { QUOTA_SHARE_GOAL, QUOTA_SHARE_TARGET, type ResultRow } from '../lib/result.ts';
import { BASELINE_WORKER, bans, LIVEQUEUE_WORKER, newRun } from '../lib/setup.ts';

/**
 * A mistaken batch. Cancel: the time to remove a 10,000-ban batch that no
 * worker has taken; the baseline removes the same job ids with BullMQ's
 * queue.remove, 500 at a time in parallel, as a hand-written script would.
 * Undo: the rate at which the ResumeLiveStream jobs drain against the
 * simulator's strict 30 QPS; the baseline drains the same lifts with a stock
 * BullMQ worker (limiter { max: 30, duration: 1000 }).
 */
const streamBans = (n: number, tag: string) => bans(n, tag, { Oneshot: 'no' });

async function cancelSeconds(system: 'baseline' | 'livequeue', jobs: number): Promise<number> {
  const run = await newRun(system);
  try {
    const records = streamBans(jobs, 'cancel');
    if (system === 'livequeue') {
      const { intake, batches } = run.runtime;
      await intake.enqueue('ForbidLiveStream', records, 'mistake', { actor: 'bench' });
      const started = performance.now();
      const result = await batches.cancel('mistake', { actor: 'bench' });
      const seconds = (performance.now() - started) / 1000;
      if (result.cancelled !== jobs) throw new Error(`cancelled ${result.cancelled} of ${jobs}`);
      return seconds;
    }
    const queue = new Queue(queueName('ForbidLiveStream'), { connection: run.redis, prefix: run.prefix });
    try {
      const ids: string[] = [];
      for (let i = 0; i < records.length; i += 1000) {
        const added = await queue.addBulk(records.slice(i, i + 1000).map((r) => ({ name: 'ForbidLiveStream', data: r.params })));
        ids.push(...added.map((job) => job.id!));
      }
      const started = performance.now();
      for (let i = 0; i < ids.length; i += 500) await Promise.all(ids.slice(i, i + 500).map((id) => queue.remove(id)));
      const seconds = (performance.now() - started) / 1000;
      if ((await queue.count()) !== 0) throw new Error('baseline left jobs behind');
      return seconds;
    } finally {
      await queue.close();
    }
  } finally {
    await run.close();
  }
}

/** Bans applied fast (a generous simulator quota for ForbidLiveStream), then lifted at 30 QPS. */
async function undoRate(system: 'baseline' | 'livequeue', jobs: number): Promise<PacingFigures> {
  const run = await newRun(system, { latencyMs: { min: 10, max: 30 }, qps: { ForbidLiveStream: 2000 } }, { FORBID_QPS: '1000' });
  const procs: Proc[] = [];
  try {
    const records = streamBans(jobs, 'undo');
    if (system === 'livequeue') {
      const { intake, batches } = run.runtime;
      await intake.enqueue('ForbidLiveStream', records, 'mistake', { actor: 'bench' });
      procs.push(start([LIVEQUEUE_WORKER], run.workerEnv({ WORKER_CONCURRENCY: '16', METRICS_PORT: '0' })));
      await waitFor(async () => (await batches.show('mistake')).applied === jobs, 120_000, 'bans applied');
      const undo = await batches.undo('mistake', { actor: 'bench' });
      if (undo.resumesEnqueued !== jobs) throw new Error(`undo enqueued ${undo.resumesEnqueued} of ${jobs}`);
      // A cheap poll while the lifts drain: the simulator runs in this process, and a busy process stamps arrivals late.
      await waitFor(async () => (await run.pending()) === 0, (jobs / 30) * 3000 + 60_000, 'undo drained');
      const { undone } = await batches.show('mistake');
      if (undone !== jobs) throw new Error(`${undone} of ${jobs} bans undone`);
    } else {
      await run.enqueue('ResumeLiveStream', records.map((r) => ({ params: resumeParamsOf(r.params as ForbidParams) })));
      procs.push(start([BASELINE_WORKER], run.workerEnv({ OPERATIONS: 'ResumeLiveStream', WORKER_CONCURRENCY: '16' })));
      await waitFor(async () => (await run.pending()) === 0, (jobs / 30) * 3000 + 60_000, 'baseline lifts drained');
    }
    const calls = run.sim.calls().filter((c) => c.action === 'ResumeLiveStream');
    return pacing(calls);
  } finally {
    await stop(procs);
    await run.close();
  }
}

export async function batchUndoScenario(cancelJobs: number, undoJobs: number): Promise<ResultRow[]> {
  const cancel = { baseline: await cancelSeconds('baseline', cancelJobs), livequeue: await cancelSeconds('livequeue', cancelJobs) };
  const baseline = await undoRate('baseline', undoJobs);
  const ours = await undoRate('livequeue', undoJobs);
  const undo = `mistaken batch: undo ${undoJobs} applied bans`;
  return [
    { scenario: `mistaken batch: cancel ${cancelJobs} pending bans`, measure: 'seconds to remove them', ...cancel, unit: 's', target: '<= 2', met: cancel.livequeue <= 2 },
    { scenario: undo, measure: 'ResumeLiveStream calls/s ÷ 30 QPS', baseline: baseline.okPerSecond / 30, livequeue: ours.okPerSecond / 30, unit: 'ratio', target: QUOTA_SHARE_TARGET, met: ours.okPerSecond / 30 >= QUOTA_SHARE_GOAL },
    { scenario: undo, measure: 'throttled calls ÷ all calls', baseline: baseline.throttledShare, livequeue: ours.throttledShare, unit: 'share', target: '<= 0.002', met: ours.throttledShare <= 0.002 },
    { scenario: undo, measure: 'most calls in any rolling second', baseline: baseline.maxPerSecond, livequeue: ours.maxPerSecond, unit: 'calls', target: '<= 30', met: ours.maxPerSecond <= 30 },
  ];
}
