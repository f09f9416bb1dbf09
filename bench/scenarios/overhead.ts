import type { HostPort } from '../../src/redis.ts';
import type { ResultRow } from '../lib/result.ts';
import { start, stop, waitFor, type Proc } from '../lib/procs.ts';
import { BASELINE_WORKER, bans, LIVEQUEUE_WORKER, newRun, type System } from '../lib/setup.ts';

const QPS = 2000;

export interface OverheadFigures {
  jobsPerSecond: number;
  cpuMsPerJob: number;
}

/** Pacing out of the way (2,000 QPS everywhere, no latency): what the queue itself costs per job. */
export async function overheadDrain(system: System, jobs: number, cluster?: readonly HostPort[], workerEnv: Record<string, string> = {}): Promise<OverheadFigures> {
  const run = await newRun(system, { qps: { ForbidLiveStream: QPS, StopLiveStreamMonitor: QPS } }, { FORBID_QPS: String(QPS), STOP_MONITOR_QPS: String(QPS) }, { cluster });
  const procs: Proc[] = [];
  try {
    await run.enqueue('ForbidLiveStream', bans(jobs, 'overhead'));
    const proc = system === 'livequeue'
      ? start([LIVEQUEUE_WORKER], run.workerEnv({ METRICS_PORT: '0', LOG_LEVEL: 'warn', ...workerEnv }), {
          // BENCH_PROF=dir writes a CPU profile of our worker there, to see where a job's time goes.
          nodeFlags: process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [],
        })
      : start([BASELINE_WORKER], run.workerEnv({ NO_LIMITER: '1' }));
    procs.push(proc);
    await waitFor(() => run.sim.calls().length > 0, 30_000, `${system} first call`);
    const cpuAtFirstCall = proc.cpuMs();
    const t0 = Date.now();
    await waitFor(async () => (await run.pending()) === 0, jobs * 20 + 60_000, `${system} drain`);
    const seconds = (Date.now() - t0) / 1000;
    return { jobsPerSecond: jobs / seconds, cpuMsPerJob: (proc.cpuMs() - cpuAtFirstCall) / jobs };
  } finally {
    await stop(procs);
    await run.close();
  }
}

export async function overheadScenario(jobs: number): Promise<ResultRow[]> {
  const b = await overheadDrain('baseline', jobs);
  const o = await overheadDrain('livequeue', jobs);
  const name = 'queue overhead (2,000 QPS, latency 0, 1 worker process; baseline: bare BullMQ worker, no limiter)';
  return [
    { scenario: name, measure: 'jobs/s', baseline: b.jobsPerSecond, livequeue: o.jobsPerSecond, unit: 'jobs/s', target: '>= 0.85 × bare BullMQ', met: o.jobsPerSecond >= 0.85 * b.jobsPerSecond },
    { scenario: name, measure: 'worker CPU per job', baseline: b.cpuMsPerJob, livequeue: o.cpuMsPerJob, unit: 'ms', target: 'report', met: true },
  ];
}
