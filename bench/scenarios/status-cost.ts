import { Registry } from 'prom-client';
import type { ResultRow } from '../lib/result.ts';
import { percentile } from '../lib/measure.ts';
import { newRun } from '../lib/setup.ts';
import { createLogger } from '../../src/log.ts';
import { registerQueueGauges } from '../../src/metrics/queue-gauges.ts';

const SAMPLES = 30;

async function median(work: () => Promise<unknown>): Promise<number> {
  await work();
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    await work();
    times.push(performance.now() - t0);
  }
  return percentile(times, 50);
}

/**
 * `status` and a `/metrics` scrape with an empty dead-letter queue and with
 * `entries` in it. The baseline column is what counting cost before the
 * counts were kept: listing the dead-letter queue (BullMQ getJobs) on every read.
 */
export async function statusCostScenario(entries: number): Promise<ResultRow[]> {
  const run = await newRun('livequeue');
  try {
    const { runtime } = run;
    const registry = new Registry();
    registerQueueGauges(registry, run.redis, [runtime], createLogger('silent'));
    const listAll = () => runtime.deadLetters.list();
    const measure = async () => ({ status: await median(() => runtime.status()), metrics: await median(() => registry.metrics()), listing: await median(listAll) });
    const empty = await measure();
    // Entries written straight into the dead-letter queue, then indexed once, as a worker does at start.
    for (let i = 0; i < entries; i += 1000) {
      await runtime.deadLetters.queue.addBulk(
        Array.from({ length: Math.min(1000, entries - i) }, (_, j) => {
          const id = `forbid.default.${(i + j).toString(16).padStart(32, '0')}`;
          return {
            name: 'ForbidLiveStream',
            data: { id, operation: 'ForbidLiveStream', params: { DomainName: 'demo.aliyundoc.com', AppName: 'bench', StreamName: id }, priority: 'normal', reason: 'terminal', code: 'InvalidResumeTime.Malformed', message: 'bench', attempts: 1, firstFailedAt: 1, lastFailedAt: 2 },
            opts: { jobId: id },
          };
        }),
      );
    }
    await runtime.deadLetters.reconcile();
    const full = { status: await median(() => runtime.status()), metrics: await median(() => registry.metrics()), listing: await median(listAll) };
    const name = `status and /metrics with 0 and ${entries.toLocaleString('en')} dead-letter entries (baseline column: listing the dead-letter queue to count it)`;
    return [
      { scenario: name, measure: 'status, empty dead-letter queue', baseline: empty.listing, livequeue: empty.status, unit: 'ms', target: '<= 20', met: empty.status <= 20 },
      { scenario: name, measure: `status, ${entries} entries`, baseline: full.listing, livequeue: full.status, unit: 'ms', target: '<= 20', met: full.status <= 20 },
      { scenario: name, measure: '/metrics scrape, empty', baseline: empty.listing, livequeue: empty.metrics, unit: 'ms', target: '<= 20', met: empty.metrics <= 20 },
      { scenario: name, measure: `/metrics scrape, ${entries} entries`, baseline: full.listing, livequeue: full.metrics, unit: 'ms', target: '<= 20', met: full.metrics <= 20 },
      { scenario: name, measure: 'status with entries ÷ status empty', baseline: full.listing / empty.listing, livequeue: full.status / empty.status, unit: 'ratio', target: '<= 2', met: full.status / empty.status <= 2 },
    ];
  } finally {
    await run.close();
  }
}
