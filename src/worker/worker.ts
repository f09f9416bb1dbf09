import type { Worker } from 'bullmq';
import type { LiveApi } from '../live/client.ts';
import type { Operation } from '../catalog/operations.ts';
import type { Queue } from 'bullmq';
import type { Config } from '../config.ts';
import { blockingConnection, type RedisClient } from '../redis.ts';
import type { Stats } from '../ledger/stats.ts';
import type { Outcomes } from '../ledger/outcomes.ts';
import type { AuditTrail } from '../ledger/audit.ts';
import type { DeadLetterQueue } from '../ledger/dead-letter.ts';
import type { Holds } from '../holds/holds.ts';
import type { HostFaults } from '../holds/host-faults.ts';
import type { TokenBucket } from '../ratelimit/token-bucket.ts';
import type { OutageLog } from './outage-log.ts';
import { BACKOFF_TYPE } from '../queue/job-options.ts';
import { queueName } from '../queue/names.ts';
import { UrgentNotices } from '../queue/urgent-notices.ts';
import { Pacer } from '../ratelimit/pacer.ts';
import type { Logger } from '../log.ts';
import { retryDelayMs } from './backoff.ts';
import { FailedSweep } from './failed-sweep.ts';
import { HoldView } from '../holds/view.ts';
import { HostHold } from './host-hold.ts';
import { THIS_PROCESS } from '../process-identity.ts';
import type { WorkerObserver } from './observer.ts';
import { createProcessor, RetryableCallError } from './processor.ts';
import { TolerantWorker } from './tolerant-worker.ts';

/**
 * What the workers need of an account, each part narrowed to its use
 * (app/runtime.ts holds them; the worker process passes them in).
 */
export interface AccountParts {
  name: string;
  prefix: string;
  redis: RedisClient;
  config: Pick<Config, 'holds' | 'blacklistRecheckMs' | 'retry' | 'jobLockMs'>;
  stats: Stats;
  outcomes: Outcomes;
  audit: AuditTrail;
  holds: Holds;
  hostFaults: HostFaults;
  deadLetters: DeadLetterQueue;
  bucket(operation: Operation): TokenBucket;
  queue(operation: Operation): Queue;
}

export interface LiveWorkersOptions {
  account: AccountParts;
  live: LiveApi;
  log: Logger;
  operations: readonly Operation[];
  concurrency: number;
  observer: WorkerObserver;
  /** What else a job's end means for the account: its batch, the blacklist count. */
  onFinished: (operation: Operation, jobId: string, params: unknown, outcome: 'applied' | 'already-applied') => Promise<void>;
  onBlacklistFull?: () => void;
  /** The process's Redis outage report; without one, worker errors are logged one by one. */
  outage?: OutageLog;
}

/**
 * The workers of one account in one process: a BullMQ worker per operation,
 * each drawing tokens from the account's shared bucket for that operation
 * through one local pacer. Built by the worker process (app/account-workers.ts).
 */
export class LiveWorkers {
  readonly workers: Worker[] = [];
  readonly operations: readonly Operation[];
  private readonly urgentNotices: UrgentNotices;
  /** Moves jobs left in the failed sets to the dead-letter queue: at start, every minute, and after each 'failed' event. */
  private readonly failedSweep: FailedSweep;
  private readonly hostHold: HostHold;
  private readonly pacers = new Map<Operation, Pacer>();
  private closing = false;

  constructor(private readonly options: LiveWorkersOptions) {
    const { account, log } = options;
    this.operations = options.operations;
    this.hostHold = new HostHold({
      account: account.name,
      process: THIS_PROCESS,
      faults: account.hostFaults,
      settings: account.config.holds,
      log,
      observer: options.observer,
      pauseWorkers: () => {
        for (const worker of this.workers) void worker.pause(true);
      },
      resumeWorkers: () => {
        // A closing worker must not start fetching again.
        if (!this.closing) for (const worker of this.workers) void worker.resume();
      },
    });
    for (const operation of options.operations) this.workers.push(this.workerFor(operation));
    // Whether or not every place looks taken: a place freed by a finishing
    // job has often fetched its next backlog job already (BullMQ fetches in
    // the same script that completes), and a worker with a place to spare
    // only refetches the job that gave way.
    this.urgentNotices = new UrgentNotices(blockingConnection(account.redis), account.prefix, this.operations, (operation, count) => this.pacers.get(operation)?.giveWay(count));
    // Every operation queue of the account, not only those this process works: a failed job blocks its stream wherever it is.
    this.failedSweep = new FailedSweep(account.deadLetters, (operation) => account.queue(operation), log);
  }

  private workerFor(operation: Operation): Worker {
    const { account, log } = this.options;
    const settings = account.config;
    const bucket = account.bucket(operation);
    const pacer = new Pacer(bucket);
    this.pacers.set(operation, pacer);
    const processor = createProcessor({
      account: account.name, operation, live: this.options.live, bucket, log, observer: this.options.observer,
      stats: account.stats,
      outcomes: account.outcomes,
      audit: account.audit,
      holds: account.holds,
      holdView: new HoldView(account.holds, operation),
      hostHold: this.hostHold,
      blacklistRecheckMs: settings.blacklistRecheckMs,
      onBlacklistFull: this.options.onBlacklistFull,
      pacer,
      deadLetters: account.deadLetters,
      onFinished: (id, params, outcome) => this.options.onFinished(operation, id, params, outcome),
      retry: settings.retry,
    });
    const worker = new TolerantWorker(queueName(operation), processor, {
      connection: blockingConnection(account.redis),
      prefix: account.prefix,
      concurrency: this.options.concurrency,
      autorun: false,
      // A crashed worker's jobs go back to wait after one lock period; a job
      // that keeps killing workers is dead-lettered after a few (see 'failed').
      lockDuration: settings.jobLockMs,
      stalledInterval: settings.jobLockMs,
      maxStalledCount: 3,
      // Holds close BullMQ's queue-wide rate-limit gate (Holds.closeGate),
      // which BullMQ checks only for a queue with a limiter. This one never
      // limits by itself: pacing is the token bucket's job.
      limiter: { max: 1_000_000_000, duration: 1000 },
      // While gated, ask again every second, so a released hold is seen at once.
      maximumRateLimitDelay: 1000,
      settings: {
        backoffStrategy: (attemptsMade, type, error) => {
          if (type !== BACKOFF_TYPE) return 0;
          const hint = error instanceof RetryableCallError ? error.failure.retryAfterMs : undefined;
          return retryDelayMs(settings.retry, attemptsMade, hint);
        },
      },
    });
    this.listen(operation, worker);
    return worker;
  }

  private listen(operation: Operation, worker: Worker): void {
    const { account, log, outage } = this.options;
    worker.on('error', (error) => {
      // While Redis is down, BullMQ's loops fail on every try: one outage report covers them.
      if (outage && (outage.redisDown || account.redis.status !== 'ready')) outage.error(operation, error);
      else log.error({ operation, err: error.message }, 'worker error (will reconnect)');
    });
    worker.on('failed', (job, error) => {
      // The processor dead-letters every failure it understands; a job that
      // still ends "failed" (it stalled too often, or the worker itself broke)
      // goes to the dead-letter queue too, so that nothing is left stuck. If
      // this process dies before it is moved, a sweep moves it (failed-sweep.ts).
      if (!job?.id || error instanceof RetryableCallError) return;
      void this.failedSweep.settle(operation, job.id).catch((err: Error) => log.error({ jobId: job.id, operation, err: err.message }, 'could not dead-letter a failed job; the next sweep will'));
    });
  }

  start(): void {
    for (const worker of this.workers) void worker.run();
    this.failedSweep.start();
    void this.urgentNotices.start().catch((error: Error) => this.options.log.warn({ err: error.message }, 'not listening for urgent jobs: they wait for a free place'));
    // Dead-letter counts are an index kept beside the entries; mend it if an older version or a hand left it behind.
    void this.options.account.deadLetters
      .reconcile()
      .then((rebuilt) => rebuilt && this.options.log.info('rebuilt the dead-letter count index'))
      .catch((error: Error) => this.options.log.warn({ err: error.message }, 'could not check the dead-letter count index'));
  }

  async waitUntilReady(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  /** Stops taking jobs and lets the in-flight ones finish (with `force`, does not wait for them). */
  async close(force = false): Promise<void> {
    this.closing = true;
    this.hostHold.close();
    this.urgentNotices.close();
    this.failedSweep.stop();
    await Promise.all(this.workers.map((w) => w.close(force)));
  }
}
