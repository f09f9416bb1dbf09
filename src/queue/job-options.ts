import type { JobsOptions } from 'bullmq';
import type { RetrySchedule } from '../config.ts';

export const PRIORITIES = ['urgent', 'normal'] as const;
export type Priority = (typeof PRIORITIES)[number];

/**
 * BullMQ serves jobs without a priority before prioritized ones, so urgent
 * jobs carry none and the normal backlog carries 1. The same number orders
 * calls waiting for a token inside a worker (lower first).
 */
export function bullPriority(priority: Priority): number | undefined {
  return priority === 'urgent' ? undefined : 1;
}

export function priorityOf(bullmqPriority: number | undefined): Priority {
  return bullmqPriority ? 'normal' : 'urgent';
}

export const BACKOFF_TYPE = 'livequeue';

export function jobOptions(jobId: string, priority: Priority, retry: RetrySchedule): JobsOptions {
  return {
    jobId,
    priority: bullPriority(priority),
    attempts: retry.attempts,
    backoff: { type: BACKOFF_TYPE },
    // Finished jobs leave the queue so the same stream can be banned again
    // later; outcomes are counted in the stats hash and terminal failures are
    // kept in the dead-letter queue.
    removeOnComplete: true,
    removeOnFail: false,
  };
}
