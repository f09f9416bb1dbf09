import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { LiveApi } from '../live/client.ts';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import { DeadLetterQueue } from '../queue/dead-letter.ts';
import { BACKOFF_TYPE, priorityOf } from '../queue/job-options.ts';
import { bucketKey, queueName } from '../queue/names.ts';
import { Outcomes } from '../queue/outcomes.ts';
import { Holds } from '../queue/holds.ts';
import { Stats } from '../queue/stats.ts';
import { Pacer } from '../ratelimit/pacer.ts';
import { defaultBucketSettings, TokenBucket } from '../ratelimit/token-bucket.ts';
import type { Logger } from '../log.ts';
import { retryDelayMs } from './backoff.ts';
import { HoldView } from './holds.ts';
import { NO_OBSERVER, type WorkerObserver } from './observer.ts';
import { createProcessor, RetryableCallError } from './processor.ts';
import { TolerantWorker } from './tolerant-worker.ts';

export interface LiveWorkersOptions {
  config: Config;
  live: LiveApi;
  log: Logger;
  /** Shared connection for buckets, stats and the dead-letter queue. */
  redis: Redis;
  operations?: readonly Operation[];
  concurrency?: number;
  observer?: WorkerObserver;
}

/**
 * The workers of one process: a BullMQ worker per operation, each drawing
 * tokens from that operation's shared bucket through one local pacer.
 */
export class LiveWorkers {
  readonly workers: Worker[] = [];
  readonly buckets = new Map<Operation, TokenBucket>();
  private readonly deadLetters: DeadLetterQueue;
  private readonly holds: Holds;

  constructor(private readonly options: LiveWorkersOptions) {
    const { config, live, log, redis } = options;
    this.deadLetters = new DeadLetterQueue(redis, config.prefix);
    const stats = new Stats(redis, config.prefix);
    const outcomes = new Outcomes(redis, config.prefix, config.outcomeTtlSeconds);
    const holds = new Holds(redis, config.prefix, config.account, config.holds);
    this.holds = holds;
    for (const operation of options.operations ?? OPERATIONS) {
      const bucket = new TokenBucket(redis, bucketKey(config.prefix, config.account, operation), defaultBucketSettings(config.qps[operation], config.pacingMarginMs));
      this.buckets.set(operation, bucket);
      const processor = createProcessor({
        operation, live, bucket, stats, outcomes, holds, log,
        holdView: new HoldView(holds, operation),
        blacklistRecheckMs: config.blacklistRecheckMs,
        pacer: new Pacer(bucket),
        deadLetters: this.deadLetters,
        retry: config.retry,
        observer: options.observer ?? NO_OBSERVER,
      });
      const worker = new TolerantWorker(queueName(operation), processor, {
        connection: redis.duplicate({ maxRetriesPerRequest: null }),
        prefix: config.prefix,
        concurrency: options.concurrency ?? config.concurrency,
        autorun: false,
        // A crashed worker's jobs go back to wait after one lock period; a job
        // that keeps killing workers is dead-lettered after a few (see 'failed').
        lockDuration: config.jobLockMs,
        stalledInterval: config.jobLockMs,
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
            return retryDelayMs(config.retry, attemptsMade, hint);
          },
        },
      });
      worker.on('error', (error) => log.error({ operation, err: error.message }, 'worker error (will reconnect)'));
      worker.on('failed', (job, error) => {
        // The processor dead-letters every failure it understands; a job that
        // still ends "failed" (it stalled too often, or the worker itself broke)
        // goes to the dead-letter queue too, so that nothing is left stuck.
        if (!job || error instanceof RetryableCallError) return;
        void this.deadLetterFailedJob(job, error).catch((err: Error) => log.error({ jobId: job.id, operation, err: err.message }, 'could not dead-letter a failed job'));
      });
      this.workers.push(worker);
    }
  }

  private async deadLetterFailedJob(job: Job, error: Error): Promise<void> {
    if ((await job.getState()) !== 'failed') return;
    const operation = job.name as Operation;
    const now = Date.now();
    await this.deadLetters.add({
      id: job.id!,
      operation,
      params: job.data,
      priority: priorityOf(job.opts.priority),
      reason: 'worker-failure',
      code: 'WorkerFailure',
      message: error.message,
      attempts: job.attemptsStarted,
      firstFailedAt: job.processedOn ?? now,
      lastFailedAt: job.finishedOn ?? now,
    });
    await job.remove();
    this.options.log.error({ jobId: job.id, operation, err: error.message }, 'job failed outside the processor; dead-lettered');
  }

  start(): void {
    for (const worker of this.workers) void worker.run();
    // Dead-letter counts are an index kept beside the entries; mend it if an older version or a hand left it behind.
    void this.deadLetters
      .reconcile()
      .then((rebuilt) => rebuilt && this.options.log.info('rebuilt the dead-letter count index'))
      .catch((error: Error) => this.options.log.warn({ err: error.message }, 'could not check the dead-letter count index'));
  }

  async waitUntilReady(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  /** Stops taking jobs and lets the in-flight ones finish. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all([this.deadLetters.close(), this.holds.close()]);
  }
}
