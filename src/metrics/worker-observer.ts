import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import type { WorkerObserver } from '../worker/observer.ts';

/** Latency buckets in seconds, around the API's usual 10-300 ms answers and up to the call timeout. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** A slot is normally one interval (50-100 ms) away; behind a backlog, up to the whole horizon of waiting calls. */
const SLOT_WAIT_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Enqueue to outcome: from an urgent ban's tens of milliseconds to a large backlog's hours. */
const JOB_DURATION_BUCKETS = [0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400];

type Outcome = 'applied' | 'already-applied' | 'dead-lettered' | 'retry';

/**
 * What this worker process did, as Prometheus counters labelled by account
 * and operation. These are per process: sum them across workers
 * (`sum by (account, operation, code) (rate(...))`).
 */
export class PrometheusWorkerObserver {
  private readonly calls: Counter<'account' | 'operation' | 'code'>;
  private readonly latency: Histogram<'account' | 'operation'>;
  private readonly applied: Counter<'account' | 'operation'>;
  private readonly alreadyApplied: Counter<'account' | 'operation' | 'code'>;
  private readonly deadLettered: Counter<'account' | 'operation' | 'code'>;
  private readonly retries: Counter<'account' | 'operation' | 'code'>;
  private readonly throttles: Counter<'account' | 'operation'>;
  private readonly slotWait: Histogram<'account' | 'operation'>;
  private readonly missedSlots: Counter<'account' | 'operation'>;
  private readonly jobDuration: Histogram<'account' | 'operation' | 'outcome'>;
  private readonly hostHeld: Gauge<'account'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.calls = new Counter({ name: 'livequeue_api_calls_total', help: 'Live API calls answered (or failed on the network), by account, operation and answer code (OK or the error code)', labelNames: ['account', 'operation', 'code'], registers });
    this.latency = new Histogram({ name: 'livequeue_api_call_duration_seconds', help: 'Live API call latency, from send to answer', labelNames: ['account', 'operation'], buckets: LATENCY_BUCKETS, registers });
    this.applied = new Counter({ name: 'livequeue_jobs_applied_total', help: 'Jobs the API applied', labelNames: ['account', 'operation'], registers });
    this.alreadyApplied = new Counter({ name: 'livequeue_jobs_already_applied_total', help: 'Jobs whose effect was already in place (counted as success), by code', labelNames: ['account', 'operation', 'code'], registers });
    this.deadLettered = new Counter({ name: 'livequeue_jobs_dead_lettered_total', help: 'Jobs moved to the dead-letter queue, by error code', labelNames: ['account', 'operation', 'code'], registers });
    this.retries = new Counter({ name: 'livequeue_job_retries_total', help: 'Job attempts that failed transiently and were scheduled again, by error code', labelNames: ['account', 'operation', 'code'], registers });
    this.throttles = new Counter({ name: 'livequeue_throttles_total', help: 'Throttling answers received: something else spends the same account quota', labelNames: ['account', 'operation'], registers });
    this.slotWait = new Histogram({ name: 'livequeue_slot_wait_seconds', help: 'Time a call waited for its slot in the token bucket (long waits: a backlog at the quota)', labelNames: ['account', 'operation'], buckets: SLOT_WAIT_BUCKETS, registers });
    this.missedSlots = new Counter({ name: 'livequeue_missed_slots_total', help: 'Calls not sent because they could not leave on time for their slot (a busy or paused process); each took the next slot', labelNames: ['account', 'operation'], registers });
    this.hostHeld = new Gauge({ name: 'livequeue_process_held', help: '1 while this worker process holds itself for an account because its own credentials, signature or clock fail (other processes go on)', labelNames: ['account'], registers });
    this.jobDuration = new Histogram({ name: 'livequeue_job_duration_seconds', help: 'From enqueue to the job\'s outcome (applied, already-applied, dead-lettered)', labelNames: ['account', 'operation', 'outcome'], buckets: JOB_DURATION_BUCKETS, registers });
  }

  /** The observer one account's workers report to: the same counters, with its account label. */
  forAccount(account: string): WorkerObserver {
    // Series without a code label exist from the start, so rate() and alerts see a 0 instead of nothing.
    for (const operation of OPERATIONS) {
      this.applied.inc({ account, operation }, 0);
      this.throttles.inc({ account, operation }, 0);
      this.missedSlots.inc({ account, operation }, 0);
    }
    this.hostHeld.set({ account }, 0);
    return {
      call: (operation: Operation, code: string, latencyMs: number) => {
        this.calls.inc({ account, operation, code });
        this.latency.observe({ account, operation }, latencyMs / 1000);
      },
      outcome: (operation: Operation, outcome: Outcome, code = 'unknown') => {
        switch (outcome) {
          case 'applied':
            return this.applied.inc({ account, operation });
          case 'already-applied':
            return this.alreadyApplied.inc({ account, operation, code });
          case 'dead-lettered':
            return this.deadLettered.inc({ account, operation, code });
          case 'retry':
            return this.retries.inc({ account, operation, code });
        }
      },
      throttled: (operation: Operation) => this.throttles.inc({ account, operation }),
      slotWait: (operation: Operation, ms: number) => this.slotWait.observe({ account, operation }, ms / 1000),
      missedSlot: (operation: Operation) => this.missedSlots.inc({ account, operation }),
      finished: (operation: Operation, outcome, ms: number) => this.jobDuration.observe({ account, operation, outcome }, ms / 1000),
      hostHeld: (held: boolean) => this.hostHeld.set({ account }, held ? 1 : 0),
    };
  }
}
