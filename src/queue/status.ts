import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import { defaultBucketSettings, TokenBucket } from '../ratelimit/token-bucket.ts';
import { DeadLetterQueue } from './dead-letter.ts';
import { Pauses } from './pauses.ts';
import { bucketKey, queueName } from './names.ts';
import { Stats } from './stats.ts';

export interface OperationStatus {
  operation: Operation;
  waiting: number;
  delayed: number;
  active: number;
  applied: number;
  alreadyApplied: number;
  retried: number;
  throttled: number;
  /** Entries now in the dead-letter queue. */
  deadLettered: number;
  configuredRate: number;
  currentRate: number;
  callsLastMinute: number;
  /** Why the operation (or part of it) is held, or null when it runs freely. */
  hold: string | null;
}

/** One snapshot of every operation: queue depth, outcomes, and the bucket's rate. */
export async function readStatus(redis: Redis, config: Config): Promise<OperationStatus[]> {
  const stats = new Stats(redis, config.prefix);
  const deadLetters = new DeadLetterQueue(redis, config.prefix);
  const pauses = new Pauses(redis, config.prefix, config.account);
  try {
    const perDeadLetterOp = new Map<Operation, number>();
    for (const entry of await deadLetters.list()) perDeadLetterOp.set(entry.operation, (perDeadLetterOp.get(entry.operation) ?? 0) + 1);
    return await Promise.all(
      OPERATIONS.map(async (operation) => {
        const queue = new Queue(queueName(operation), { connection: redis, prefix: config.prefix });
        try {
          const bucket = new TokenBucket(redis, bucketKey(config.prefix, config.account, operation), defaultBucketSettings(config.qps[operation], config.pacingMarginMs));
          const [counts, outcomes, bucketState, pause, blacklist] = await Promise.all([
            queue.getJobCounts('wait', 'prioritized', 'delayed', 'active'),
            stats.read(operation),
            bucket.state(),
            pauses.operationPause(operation),
            operation === 'ForbidLiveStream' ? pauses.blacklistHold() : undefined,
          ]);
          return {
            operation,
            waiting: (counts.wait ?? 0) + (counts.prioritized ?? 0),
            delayed: counts.delayed ?? 0,
            active: counts.active ?? 0,
            applied: outcomes.applied,
            alreadyApplied: outcomes.alreadyApplied,
            retried: outcomes.retried,
            throttled: outcomes.throttled,
            deadLettered: perDeadLetterOp.get(operation) ?? 0,
            configuredRate: bucketState.configuredRate,
            currentRate: Math.round(bucketState.currentRate * 100) / 100,
            callsLastMinute: outcomes.callsLastMinute,
            hold: pause
              ? `paused since ${new Date(pause.since).toISOString()}: ${pause.code} (${pause.message}); resume with \`livequeue resume ${queueName(operation)}\``
              : blacklist
                ? `blacklist full (${blacklist.code}): bans that add to it wait until ${new Date(blacklist.until).toISOString()}; Oneshot=yes bans go on`
                : null,
          };
        } finally {
          await queue.close();
        }
      }),
    );
  } finally {
    await deadLetters.close();
  }
}
