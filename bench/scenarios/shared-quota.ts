import { AlibabaLiveClient, staticCredential } from '../../src/live/client.ts';
import type { ResultRow } from '../lib/result.ts';
import { start, stop, waitFor, type Proc } from '../lib/procs.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, BASELINE_WORKER, bans, LIVEQUEUE_WORKER, newRun, type Run, type System } from '../lib/setup.ts';

const OTHER_CLIENT_QPS = 5;

/** Another client of the same account spends 5 QPS of the 20, evenly, for the whole drain. */
function otherClient(run: Run): () => void {
  const client = new AlibabaLiveClient({ endpoint: run.endpoint, regionId: 'cn-shanghai', timeoutMs: 5000, credential: staticCredential(ACCESS_KEY_ID, ACCESS_KEY_SECRET) });
  let i = 0;
  const timer = setInterval(() => void client.call('ForbidLiveStream', { DomainName: 'demo.aliyundoc.com', AppName: 'other', StreamName: `other-${i++}`, LiveStreamType: 'publisher', Oneshot: 'yes' }), 1000 / OTHER_CLIENT_QPS);
  return () => clearInterval(timer);
}

interface SharedFigures {
  throttledShare: number;
  throttledShareAfter10s: number;
  okPerSecond: number;
}

async function drain(system: System, jobs: number): Promise<SharedFigures> {
  const run = await newRun(system, { latencyMs: { min: 10, max: 30 } });
  const procs: Proc[] = [];
  const stopOther = otherClient(run);
  try {
    await run.enqueue('ForbidLiveStream', bans(jobs, 'shared'));
    procs.push(system === 'livequeue' ? start([LIVEQUEUE_WORKER], run.workerEnv({ METRICS_PORT: '0' })) : start([BASELINE_WORKER], run.workerEnv()));
    await waitFor(async () => (await run.pending()) === 0, (jobs / 10 + 120) * 1000, `${system} drain`);
    const ours = run.sim.calls().filter((c) => c.params.AppName === 'bench');
    const first = ours[0]!.at;
    const throttled = (calls: typeof ours) => (calls.length === 0 ? 0 : calls.filter((c) => c.code.includes('Throttling')).length / calls.length);
    const ok = ours.filter((c) => c.code === 'OK');
    return {
      throttledShare: throttled(ours),
      throttledShareAfter10s: throttled(ours.filter((c) => c.at > first + 10_000)),
      okPerSecond: (ok.length - 1) / ((ok.at(-1)!.at - first) / 1000),
    };
  } finally {
    stopOther();
    await stop(procs);
    await run.close();
  }
}

export async function sharedQuotaScenario(jobs: number): Promise<ResultRow[]> {
  const b = await drain('baseline', jobs);
  const sp = await drain('spaced', jobs);
  const o = await drain('livequeue', jobs);
  const name = 'shared quota (another client at 5 of 20 QPS)';
  const available = 20 - OTHER_CLIENT_QPS;
  return [
    { scenario: name, measure: 'throttled calls ÷ all calls, whole drain', baseline: b.throttledShare, spaced: sp.throttledShare, livequeue: o.throttledShare, unit: 'share', target: 'lower than both', met: o.throttledShare < Math.min(b.throttledShare, sp.throttledShare) },
    { scenario: name, measure: 'throttled calls ÷ all calls, after the first 10 s', baseline: b.throttledShareAfter10s, spaced: sp.throttledShareAfter10s, livequeue: o.throttledShareAfter10s, unit: 'share', target: '<= 0.01', met: o.throttledShareAfter10s <= 0.01 },
    { scenario: name, measure: `achieved calls/s ÷ the ${available} QPS left`, baseline: b.okPerSecond / available, spaced: sp.okPerSecond / available, livequeue: o.okPerSecond / available, unit: 'ratio', target: 'report', met: true },
  ];
}
