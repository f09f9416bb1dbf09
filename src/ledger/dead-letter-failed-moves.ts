import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from '../queue/bullmq.ts';
import type { RedisClient } from '../redis.ts';
import type { Operation } from '../catalog/operations.ts';
import { queueKeyPrefix } from './batch-ledger.ts';
import { failedMoveLeaseKey } from '../queue/names.ts';
import { deadLetterEntry, type DeadLetterEntry } from './dead-letter-entry.ts';

/**
 * Moving jobs left in an operation queue's failed set into the dead set, so
 * none is lost and none holds its job id against a new job of the same id.
 */

/**
 * How long a process may take to move one failed job to the dead-letter
 * queue (write the entry, remove the job) before another may take over.
 */
const FAILED_MOVE_LEASE_MS = 10_000;

/** What `takeFailed` did with a job of a queue's failed set: the entry it wrote, or why it wrote none. */
export type FailedMove = { moved: true; entry: DeadLetterEntry } | { moved: false; why: 'leased' | 'not-failed' };

/** What a move needs of the dead-letter queue (DeadLetterQueue). */
export interface FailedMoveTarget {
  readonly redis: RedisClient;
  readonly prefix: string;
  /** The operation queues whose failed sets are moved. */
  targets(operation: Operation): Queue;
  /** Writes the entry to the dead set (DeadLetterQueue.add). */
  add(entry: DeadLetterEntry): Promise<void>;
}

/**
 * Moves a job left in its queue's failed set to the dead set, as reason
 * `worker-failure` with its failedReason, then removes it from the queue.
 * A job ends there when its handling broke outside the processor (it
 * stalled too often, or the worker was killed between the failure and the
 * move). The move is two steps, so the entry is written first and the job
 * removed after, only if it is still failed: a process killed in between
 * leaves the job failed for the next sweep, never lost. A lease keeps two
 * processes (every worker sweeps) from moving the same job at once; the
 * job is read only once it is held.
 */
export async function takeFailed(dead: FailedMoveTarget, operation: Operation, id: string): Promise<FailedMove> {
  const lease = failedMoveLeaseKey(dead.prefix, id);
  const token = randomUUID();
  if ((await dead.redis.set(lease, token, 'PX', FAILED_MOVE_LEASE_MS, 'NX')) !== 'OK') return { moved: false, why: 'leased' };
  try {
    const queue = dead.targets(operation);
    const replies = (await dead.redis
      .multi()
      .zscore(queue.toKey('failed'), id)
      .hmget(queue.toKey(id), 'data', 'priority', 'failedReason', 'ats', 'atm', 'processedOn', 'finishedOn', 'progress')
      .exec()) as [[null, string | null], [null, (string | null)[]]];
    if (replies[0][1] === null) return { moved: false, why: 'not-failed' };
    const [data, priority, failedReason, started, made, processedOn, finishedOn, progress] = replies[1][1];
    const now = Date.now();
    const entry = deadLetterEntry(
      // As stored, valid or not: a payload that is not JSON is kept as its text.
      { id, operation, params: parseJson(data) ?? data, priority: Number(priority ?? 0) || undefined, progress: parseJson(progress), attempts: Number(started ?? made ?? 0) },
      { reason: 'worker-failure', code: 'WorkerFailure', message: failedReason || 'the job failed outside the processor' },
      { lastFailedAt: Number(finishedOn ?? now), unrecordedFirstFailure: Number(processedOn ?? now) },
    );
    await dead.add(entry);
    const removed = await dead.redis.livequeueRemoveFinished(queueKeyPrefix(queue), lease, id, token);
    return removed === 'removed-failed' ? { moved: true, entry } : { moved: false, why: 'not-failed' };
  } finally {
    await dead.redis.livequeueReleaseLease(lease, token);
  }
}

/**
 * Frees a job id held by a job that is over but still in its queue, so a
 * new job of the same id (the same stream or monitor) can be added: a
 * failed job is dead-lettered first (takeFailed: nothing is lost), a
 * completed one removed. Answers 'queued' when a job of that id is pending
 * or running (the id is taken), 'dead-lettered' when a failed job was
 * moved to the dead set, else 'free'.
 */
export async function freeJobId(dead: FailedMoveTarget, operation: Operation, id: string): Promise<'free' | 'dead-lettered' | 'queued'> {
  const queue = dead.targets(operation);
  const lease = failedMoveLeaseKey(dead.prefix, id);
  let movedHere = false;
  // Another process holds the move for at most its lease; then the job is gone or ours to move.
  const deadline = Date.now() + FAILED_MOVE_LEASE_MS + 1000;
  for (;;) {
    const answer = await dead.redis.livequeueRemoveFinished(queueKeyPrefix(queue), lease, id, '');
    if (answer === 'queued') return 'queued';
    if (answer === 'absent' || answer.startsWith('removed-')) return movedHere ? 'dead-lettered' : 'free';
    if (Date.now() > deadline) throw new Error(`job ${id} stays in its failed set: another process has been moving it to the dead-letter queue for more than ${FAILED_MOVE_LEASE_MS} ms`);
    // 'failed': move it here; 'leased': another process is moving it, wait for it.
    if (answer === 'failed') movedHere = (await takeFailed(dead, operation, id)).moved || movedHere;
    else await sleep(25);
  }
}

function parseJson<T = unknown>(raw: string | null | undefined): T | undefined {
  if (raw === null || raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}
