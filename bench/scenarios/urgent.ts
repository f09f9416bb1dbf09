import type { ResultRow } from '../lib/result.ts';
import { percentile } from '../lib/measure.ts';
import { start, stop, waitFor, type Proc } from '../lib/procs.ts';
import { BASELINE_WORKER, bans, LIVEQUEUE_WORKER, newRun, type System } from '../lib/setup.ts';

/** Single urgent bans arriving while a mass ban drains: how long until each reaches the API. */
async function drain(system: System, backlog: number, urgent: number): Promise<number[]> {
  const run = await newRun(system, { latencyMs: { min: 10, max: 30 } });
  const procs: Proc[] = [];
  try {
    await run.enqueue('ForbidLiveStream', bans(backlog, 'backlog'));
    procs.push(system === 'livequeue' ? start([LIVEQUEUE_WORKER], run.workerEnv({ METRICS_PORT: '0' })) : start([BASELINE_WORKER], run.workerEnv()));
    await waitFor(() => run.sim.calls().length >= 40, 60_000, `${system} warm-up`);
    const enqueuedAt = new Map<string, number>();
    for (let i = 0; i < urgent; i++) {
      const [record] = bans(1, `urgent-${i}`);
      await run.enqueue('ForbidLiveStream', [{ ...record!, priority: 'urgent' }]);
      enqueuedAt.set(`urgent-${i}-0`, Date.now());
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 100));
    }
    await waitFor(() => run.sim.calls().filter((c) => String(c.params.StreamName).startsWith('urgent-') && c.code === 'OK').length >= urgent, 60_000, `${system} urgent jobs`);
    return run.sim.calls()
      .filter((c) => enqueuedAt.has(String(c.params.StreamName)) && c.code === 'OK')
      .map((c) => c.at - enqueuedAt.get(String(c.params.StreamName))!);
  } finally {
    await stop(procs);
    await run.close();
  }
}

export async function urgentScenario(backlog: number, urgent: number): Promise<ResultRow[]> {
  const b = await drain('baseline', backlog, urgent);
  const o = await drain('livequeue', backlog, urgent);
  const name = `urgent ban under a ${backlog.toLocaleString('en')}-job backlog (${urgent} urgent jobs)`;
  return [
    { scenario: name, measure: 'enqueue → API call, p50', baseline: percentile(b, 50), livequeue: percentile(o, 50), unit: 'ms', target: 'report', met: true },
    { scenario: name, measure: 'enqueue → API call, p99', baseline: percentile(b, 99), livequeue: percentile(o, 99), unit: 'ms', target: '<= 100 (2 token intervals)', met: percentile(o, 99) <= 100 },
  ];
}
