import { Counter, Histogram, type Registry } from 'prom-client';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import type { WorkerObserver } from '../worker/observer.ts';

/** Latency buckets in seconds, around the API's usual 10-300 ms answers and up to the call timeout. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * What this worker process did, as Prometheus counters. These are per process:
 * sum them across workers (`sum by (operation, code) (rate(...))`).
 */
export class PrometheusWorkerObserver implements WorkerObserver {
  private readonly calls: Counter<'operation' | 'code'>;
  private readonly latency: Histogram<'operation'>;
  private readonly applied: Counter<'operation'>;
  private readonly alreadyApplied: Counter<'operation' | 'code'>;
  private readonly deadLettered: Counter<'operation' | 'code'>;
  private readonly retries: Counter<'operation' | 'code'>;
  private readonly throttles: Counter<'operation'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.calls = new Counter({ name: 'livequeue_api_calls_total', help: 'Live API calls answered (or failed on the network), by operation and answer code (OK or the error code)', labelNames: ['operation', 'code'], registers });
    this.latency = new Histogram({ name: 'livequeue_api_call_duration_seconds', help: 'Live API call latency, from send to answer', labelNames: ['operation'], buckets: LATENCY_BUCKETS, registers });
    this.applied = new Counter({ name: 'livequeue_jobs_applied_total', help: 'Jobs the API applied', labelNames: ['operation'], registers });
    this.alreadyApplied = new Counter({ name: 'livequeue_jobs_already_applied_total', help: 'Jobs whose effect was already in place (counted as success), by code', labelNames: ['operation', 'code'], registers });
    this.deadLettered = new Counter({ name: 'livequeue_jobs_dead_lettered_total', help: 'Jobs moved to the dead-letter queue, by error code', labelNames: ['operation', 'code'], registers });
    this.retries = new Counter({ name: 'livequeue_job_retries_total', help: 'Job attempts that failed transiently and were scheduled again, by error code', labelNames: ['operation', 'code'], registers });
    this.throttles = new Counter({ name: 'livequeue_throttles_total', help: 'Throttling answers received: something else spends the same account quota', labelNames: ['operation'], registers });
    // Series without a code label exist from the start, so rate() and alerts see a 0 instead of nothing.
    for (const operation of OPERATIONS) {
      this.applied.inc({ operation }, 0);
      this.throttles.inc({ operation }, 0);
    }
  }

  call(operation: Operation, code: string, latencyMs: number): void {
    this.calls.inc({ operation, code });
    this.latency.observe({ operation }, latencyMs / 1000);
  }

  outcome(operation: Operation, outcome: 'applied' | 'already-applied' | 'dead-lettered' | 'retry', code = 'unknown'): void {
    switch (outcome) {
      case 'applied':
        return this.applied.inc({ operation });
      case 'already-applied':
        return this.alreadyApplied.inc({ operation, code });
      case 'dead-lettered':
        return this.deadLettered.inc({ operation, code });
      case 'retry':
        return this.retries.inc({ operation, code });
    }
  }

  throttled(operation: Operation): void {
    this.throttles.inc({ operation });
  }
}
