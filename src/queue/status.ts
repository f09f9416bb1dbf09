import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import { defaultBucketSettings, TokenBucket } from '../ratelimit/token-bucket.ts';
import { DeadLetterQueue } from './dead-letter.ts';
import { Holds } from './holds.ts';
import type { HoldReason } from '../live/error-codes.ts';
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
  hold: HoldStatus | null;
}

export interface HoldStatus {
  reason: HoldReason;
  /** ISO time the hold began. */
  since: string;
  /** The last code that met the hold, and its message. */
  code: string;
  message: string;
  /** Calls that got a failure since the hold began. */
  calls: number;
  /** ISO time of the next probe call; null when nothing probes (manual) or the hold simply expires (blacklist). */
  nextProbeAt: string | null;
  /** For a blacklist hold: ISO time its bans are tried again. */
  until?: string;
  /** What lifts it. */
  resume: string;
}

/** One snapshot of every operation: queue depth, outcomes, and the bucket's rate. */
export async function readStatus(redis: Redis, config: Config): Promise<OperationStatus[]> {
  const stats = new Stats(redis, config.prefix);
  const deadLetters = new DeadLetterQueue(redis, config.prefix);
  const holds = new Holds(redis, config.prefix, config.account, config.holds);
  try {
    return await Promise.all(
      OPERATIONS.map(async (operation) => {
        const queue = new Queue(queueName(operation), { connection: redis, prefix: config.prefix });
        try {
          const bucket = new TokenBucket(redis, bucketKey(config.prefix, config.account, operation), defaultBucketSettings(config.qps[operation], config.pacingMarginMs));
          const [counts, outcomes, bucketState, hold, blacklist, deadLettered] = await Promise.all([
            queue.getJobCounts('wait', 'prioritized', 'delayed', 'active'),
            stats.read(operation),
            bucket.state(),
            holds.current(operation),
            operation === 'ForbidLiveStream' ? holds.blacklistHold() : undefined,
            deadLetters.count(operation),
          ]);
          const resume = `livequeue resume ${queueName(operation)}`;
          return {
            operation,
            waiting: (counts.wait ?? 0) + (counts.prioritized ?? 0),
            delayed: counts.delayed ?? 0,
            active: counts.active ?? 0,
            applied: outcomes.applied,
            alreadyApplied: outcomes.alreadyApplied,
            retried: outcomes.retried,
            throttled: outcomes.throttled,
            deadLettered,
            configuredRate: bucketState.configuredRate,
            currentRate: Math.round(bucketState.currentRate * 100) / 100,
            callsLastMinute: outcomes.callsLastMinute,
            hold: hold
              ? {
                  reason: hold.reason,
                  since: new Date(hold.since).toISOString(),
                  code: hold.code,
                  message: hold.message,
                  calls: hold.count,
                  nextProbeAt: hold.nextProbeAt === undefined ? null : new Date(hold.nextProbeAt).toISOString(),
                  resume,
                }
              : blacklist
                ? {
                    reason: 'blacklist' as const,
                    since: new Date(blacklist.since).toISOString(),
                    code: blacklist.code,
                    message: `${blacklist.message}; bans that add to the blacklist wait, Oneshot=yes bans go on`,
                    calls: 1,
                    nextProbeAt: null,
                    until: new Date(blacklist.until).toISOString(),
                    resume,
                  }
                : null,
          };
        } finally {
          await queue.close();
        }
      }),
    );
  } finally {
    await Promise.all([deadLetters.close(), holds.close()]);
  }
}
