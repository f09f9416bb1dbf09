import type { ResultRow } from '../lib/result.ts';
import { percentile } from '../lib/measure.ts';
import { start, stop, waitFor, type Proc } from '../lib/procs.ts';
import { BASELINE_WORKER, bans, LIVEQUEUE_WORKER, newRun, type System } from '../lib/setup.ts';

interface UrgentFigures {
  /** enqueue -> the job's first call (whatever the answer). */
  firstCall: number[];
  /** enqueue -> the job's successful call (after any throttled ones). */
  applied: number[];
}

/** Single urgent bans arriving while a mass ban drains: how long until each reaches the API. */
async function drain(system: System, backlog: number, urgent: number): Promise<UrgentFigures> {
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
    const calls = run.sim.calls().filter((c) => enqueuedAt.has(String(c.params.StreamName)));
    const since = (c: (typeof calls)[number]) => c.at - enqueuedAt.get(String(c.params.StreamName))!;
    const first = new Map<string, number>();
    for (const c of calls) if (!first.has(String(c.params.StreamName))) first.set(String(c.params.StreamName), since(c));
    return { firstCall: [...first.values()], applied: calls.filter((c) => c.code === 'OK').map(since) };
  } finally {
    await stop(procs);
    await run.close();
  }
}

export async function urgentScenario(backlog: number, urgent: number): Promise<ResultRow[]> {
  const b = await drain('baseline', backlog, urgent);
  const sp = await drain('spaced', backlog, urgent);
  const o = await drain('livequeue', backlog, urgent);
  const name = `urgent ban under a ${backlog.toLocaleString('en')}-job backlog (${urgent} urgent jobs)`;
  const row = (measure: string, pick: (f: UrgentFigures) => number[], p: number, target: string, met: (ms: number) => boolean): ResultRow => ({
    scenario: name, measure, baseline: percentile(pick(b), p), spaced: percentile(pick(sp), p), livequeue: percentile(pick(o), p), unit: 'ms', target, met: met(percentile(pick(o), p)),
  });
  return [
    row('enqueue → first API call, p50', (f) => f.firstCall, 50, 'report', () => true),
    row('enqueue → first API call, p99', (f) => f.firstCall, 99, '<= 100 (2 token intervals)', (ms) => ms <= 100),
    row('enqueue → successful API call, p50', (f) => f.applied, 50, 'report', () => true),
    row('enqueue → successful API call, p99', (f) => f.applied, 99, '<= 100 (2 token intervals)', (ms) => ms <= 100),
  ];
}
