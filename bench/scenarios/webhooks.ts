import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResultRow } from '../lib/result.ts';
import { start, stop, waitFor, type Proc } from '../lib/procs.ts';
import { bans, LIVEQUEUE_WORKER, newRun } from '../lib/setup.ts';

const QPS = 500;

/** A receiver that answers 200 at once and notes, per record, when it arrived. */
async function receiver(): Promise<{ url: string; arrivals: Map<string, number>; close: () => Promise<void> }> {
  const arrivals = new Map<string, number>();
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const { id, type } = JSON.parse(body) as { id: string; type: string };
      if (type === 'outcome' && !arrivals.has(id)) arrivals.set(id, Date.now());
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, arrivals, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** From an outcome's record (its id is the time it was written) to the receiver's answer. */
export async function webhooksScenario(outcomes: number): Promise<ResultRow[]> {
  const hook = await receiver();
  const dir = mkdtempSync(join(tmpdir(), 'lq-bench-hooks-'));
  const file = join(dir, 'webhooks.json');
  writeFileSync(file, JSON.stringify([{ name: 'bench', url: hook.url, events: ['outcome'], secretEnv: 'BENCH_HOOK_SECRET', ratePerSecond: 1000 }]));
  const hookEnv = { LIVEQUEUE_WEBHOOKS_FILE: file, WEBHOOKS_ALLOW_HTTP_LOOPBACK: '1', BENCH_HOOK_SECRET: randomBytes(24).toString('hex') };
  const run = await newRun('livequeue', { qps: { ForbidLiveStream: QPS } }, { FORBID_QPS: String(QPS), ...hookEnv });
  const procs: Proc[] = [];
  try {
    procs.push(start([LIVEQUEUE_WORKER], run.workerEnv({ METRICS_PORT: '0', LOG_LEVEL: 'warn' })));
    // The endpoint's consumer group starts at the trail's end: let the worker create it before the first outcome.
    await waitFor(async () => ((await run.redis.xinfo('GROUPS', run.runtime.audit.key).catch(() => [])) as unknown[]).length > 0, 30_000, 'the webhook consumer group');
    await run.enqueue('ForbidLiveStream', bans(outcomes, 'hooks'));
    await waitFor(() => hook.arrivals.size >= outcomes, outcomes * 10 + 60_000, 'every outcome delivered');
    const latencies = [...hook.arrivals].map(([id, at]) => at - Number(id.split('-')[0])).sort((a, b) => a - b);
    const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
    const name = `webhooks: ${outcomes.toLocaleString('en')} outcomes at ${QPS} QPS to one local receiver (ratePerSecond 1000), from the outcome's record to the receiver`;
    return [
      { scenario: name, measure: 'delivery latency p50', baseline: null, livequeue: p(0.5), unit: 'ms', target: 'report', met: true },
      { scenario: name, measure: 'delivery latency p99', baseline: null, livequeue: p(0.99), unit: 'ms', target: 'report', met: true },
    ];
  } finally {
    await stop(procs);
    await run.close();
    await hook.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
