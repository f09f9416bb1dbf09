import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { LiveApi } from '../live/client.ts';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import { DeadLetterQueue } from '../queue/dead-letter.ts';
import { BACKOFF_TYPE } from '../queue/job-options.ts';
import { bucketKey, queueName } from '../queue/names.ts';
import { Outcomes } from '../queue/outcomes.ts';
import { Stats } from '../queue/stats.ts';
import { Pacer } from '../ratelimit/pacer.ts';
import { defaultBucketSettings, TokenBucket } from '../ratelimit/token-bucket.ts';
import type { Logger } from '../log.ts';
import { retryDelayMs } from './backoff.ts';
import { NO_OBSERVER, type WorkerObserver } from './observer.ts';
import { createProcessor, RetryableCallError } from './processor.ts';

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

  constructor(private readonly options: LiveWorkersOptions) {
    const { config, live, log, redis } = options;
    this.deadLetters = new DeadLetterQueue(redis, config.prefix);
    const stats = new Stats(redis, config.prefix);
    const outcomes = new Outcomes(redis, config.prefix, config.outcomeTtlSeconds);
    for (const operation of options.operations ?? OPERATIONS) {
      const bucket = new TokenBucket(redis, bucketKey(config.prefix, config.account, operation), defaultBucketSettings(config.qps[operation], config.pacingMarginMs));
      this.buckets.set(operation, bucket);
      const processor = createProcessor({
        operation, live, bucket, stats, outcomes, log,
        pacer: new Pacer(bucket),
        deadLetters: this.deadLetters,
        retry: config.retry,
        observer: options.observer ?? NO_OBSERVER,
      });
      const worker = new Worker(queueName(operation), processor, {
        connection: redis.duplicate({ maxRetriesPerRequest: null }),
        prefix: config.prefix,
        concurrency: options.concurrency ?? config.concurrency,
        autorun: false,
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
        // Retries are expected; anything else ending in "failed" is a bug or a stall loop.
        if (job && !(error instanceof RetryableCallError)) log.error({ jobId: job.id, operation, err: error.message }, 'job failed outside the processor');
      });
      this.workers.push(worker);
    }
  }

  start(): void {
    for (const worker of this.workers) void worker.run();
  }

  async waitUntilReady(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  /** Stops taking jobs and lets the in-flight ones finish. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    await this.deadLetters.close();
  }
}
