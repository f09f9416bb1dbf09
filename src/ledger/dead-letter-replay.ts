import type { Job } from 'bullmq';
import type { Queue } from '../queue/bullmq.ts';
import type { RetrySchedule } from '../config.ts';
import type { Operation } from '../catalog/operations.ts';
import { jobOptions } from '../queue/job-options.ts';
import { entryOf } from './dead-letter-entry.ts';

/** Taking entries out of the dead set: back onto their queues (replay), or for good (purge). */

export interface ReplayResult {
  /** Entries put back on their queues (and removed from the dead set). */
  replayed: number;
  /**
   * Entries left in the dead set because a job of the same id (the same
   * stream or monitor) is pending or running already: that job does the work.
   */
  alreadyQueued: string[];
}

/** What replay and purge need of the dead-letter queue (DeadLetterQueue). */
export interface DeadSet {
  /** The queue that holds the entries. */
  readonly queue: Queue;
  /** The operation queues that replayed entries go back to. */
  targets(operation: Operation): Queue;
  /** DeadLetterQueue.freeJobId. */
  freeJobId(operation: Operation, id: string): Promise<'free' | 'dead-lettered' | 'queued'>;
  /** Deletes an entry and its index. */
  removeEntry(job: Job): Promise<void>;
}

/**
 * Puts the entries held by `jobs` back on their queues with fresh attempts
 * and removes them from the dead set. An entry whose job id is pending or
 * running again (the same stream enqueued since) is not replayed: BullMQ
 * would keep the queued job and drop the replay, so it stays in the dead
 * set and is named in `alreadyQueued`. A job of that id left over in its
 * queue's failed or completed set does not count as queued: it is moved to
 * the dead set (failed) or removed (completed), and the entry replayed.
 */
export async function replayEntries(dead: DeadSet, jobs: AsyncIterable<Job>, retry: RetrySchedule): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, alreadyQueued: [] };
  for await (const job of jobs) {
    let entry = entryOf(job);
    // An entry that is not valid cannot be replayed: it stays, and `dlq list` names it.
    if ('problem' in entry) continue;
    const freed = await dead.freeJobId(entry.operation, entry.id);
    if (freed === 'queued') {
      result.alreadyQueued.push(entry.id);
      continue;
    }
    // A failed job of the same id was just dead-lettered: its entry, the newer, replaced this one.
    if (freed === 'dead-lettered') {
      const newer = await dead.queue.getJob(entry.id);
      const parsed = newer ? entryOf(newer) : entry;
      if (!('problem' in parsed)) entry = parsed;
    }
    await dead.targets(entry.operation).add(entry.operation, entry.params, jobOptions(entry.id, entry.priority, retry));
    await dead.removeEntry(job);
    result.replayed++;
  }
  return result;
}

/** Deletes the entries held by `jobs` for good. Returns how many were removed. */
export async function purgeEntries(dead: DeadSet, jobs: AsyncIterable<Job>): Promise<number> {
  let purged = 0;
  for await (const job of jobs) {
    await dead.removeEntry(job);
    purged++;
  }
  return purged;
}
