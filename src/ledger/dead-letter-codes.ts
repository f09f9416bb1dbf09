import type { Queue } from 'bullmq';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import type { DeadLetterEntry } from './dead-letter-entry.ts';

/** Dead letters grouped by operation and error code, for the status page. */

export interface DeadLetterCodeCount {
  operation: Operation;
  code: string;
  count: number;
}

export interface DeadLetterCodes {
  /** Entries in the dead-letter queue (its index: O(1)). */
  total: number;
  /** Entries grouped, the most frequent first: at most `limit` entries are read. */
  byCode: DeadLetterCodeCount[];
  /** True when there are more entries than were read: the groups are of the oldest `limit`. */
  partial: boolean;
}

/**
 * Groups the oldest `limit` entries by code: a page's refresh reads a bounded
 * number of entries however large the dead set grows; `total` stays exact.
 */
export async function deadLettersByCode(deadLetters: { queue: Pick<Queue, 'getJobs'>; count(operation?: Operation): Promise<number> }, limit = 1000): Promise<DeadLetterCodes> {
  const [total, jobs] = await Promise.all([deadLetters.count(), deadLetters.queue.getJobs(['waiting'], 0, limit - 1, true)]);
  const groups = new Map<string, DeadLetterCodeCount>();
  for (const job of jobs) {
    const entry = job?.data as Partial<DeadLetterEntry> | undefined;
    const operation = OPERATIONS.find((op) => op === entry?.operation);
    if (!operation || typeof entry?.code !== 'string') continue; // malformed: dlq list names it
    const key = `${operation}\u0000${entry.code}`;
    const group = groups.get(key) ?? { operation, code: entry.code, count: 0 };
    group.count++;
    groups.set(key, group);
  }
  const byCode = [...groups.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  return { total, byCode, partial: total > jobs.length };
}
