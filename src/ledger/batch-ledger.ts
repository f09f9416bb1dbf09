import { defineScripts } from '../redis-scripts.ts';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis.ts';
import { BATCH_TTL_SECONDS } from '../jobs/batch-id.ts';
import { banOwnerKey, batchKeys, jobBatchKey } from '../queue/names.ts';

/**
 * What batches own, kept atomically in Redis (one Lua script per act):
 *
 * - a job's tie to the batch that enqueued it (job-batch:<id>): a job id is
 *   one per stream, so the same id belongs to different batches over time;
 * - how each batch's own job ended (batch-outcomes:<batch>), written when the
 *   job ends, for the batch it was tied to then (batch-ledger.lua);
 * - which batch owns the standing ban of a stream (ban-owner:<id>): the last
 *   one whose ban was applied, until a lift is applied (batch-ledger.lua);
 * - cancel: removes only pending jobs tied to the batch, deciding and
 *   removing in one step (cancel.lua);
 * - undo: claims only bans the batch still owns (undo-claim.lua).
 */

export type JobEnd = 'applied' | 'already-applied' | 'dead-lettered';
export type CancelAnswer = 'cancelled' | 'in-flight' | 'other' | 'finished';
export type ClaimAnswer = 'claimed' | 'before' | 'superseded';

export interface SettleOptions {
  /** The stream's standing ban: taken by this job's applied ban, cleared by an applied lift, or left. */
  ban?: { id: string; change: 'take' | 'clear' };
  /** Dead-lettered jobs stay tied to their batch: a replay runs under it again. */
  keepTie?: boolean;
  /** An applied ban's parameters, kept for undo. */
  params?: unknown;
  /** A lift enqueued by an undo, counted as undone for its batch. */
  undone?: boolean;
}

/** The key prefix of a BullMQ queue's keys ("<prefix>:<name>:"): wait, prioritized, the job hashes... */
export function queueKeyPrefix(queue: Queue): string {
  return queue.toKey('');
}

export class BatchLedger {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {
    defineScripts(redis);
  }

  /**
   * Ties each new job to the batch that enqueued it, before a worker can take
   * it, so the worker that finishes it tells that batch. A job enqueued
   * without a batch has none: a tie an earlier job of the same id left (a
   * dead-lettered one keeps its tie for a replay) is removed, so that job's
   * batch never claims this one.
   */
  async tie(batch: string | undefined, jobIds: readonly string[]): Promise<void> {
    if (jobIds.length === 0) return;
    const write = this.redis.multi();
    for (const id of jobIds) {
      if (batch === undefined) write.del(jobBatchKey(this.prefix, id));
      else write.set(jobBatchKey(this.prefix, id), batch, 'EX', BATCH_TTL_SECONDS);
    }
    await write.exec();
  }

  /** Records a job's end for its batch; returns the batch (if it had one) and whether an undo was asked for it. */
  async settle(jobId: string, outcome: JobEnd, options: SettleOptions = {}): Promise<{ batch?: string; undoAsked: boolean; done: boolean }> {
    const tie = jobBatchKey(this.prefix, jobId);
    const [batch, undoAsked, done] = await this.redis.livequeueBatchLedger(
      tie,
      options.ban ? banOwnerKey(this.prefix, options.ban.id) : tie,
      this.prefix,
      jobId,
      outcome,
      options.ban?.change ?? 'keep',
      options.keepTie ? 'stay' : 'end',
      options.params === undefined ? '' : JSON.stringify(options.params),
      options.undone ? '1' : '0',
      BATCH_TTL_SECONDS,
      Date.now(),
    );
    return { ...(batch ? { batch } : {}), undoAsked: undoAsked === 1, done: done === 1 };
  }

  /** Cancels the pending jobs among `ids` that are tied to `batch` (every pending one with `batch` undefined). */
  async cancel(queue: Queue, batch: string | undefined, ids: readonly string[]): Promise<CancelAnswer[]> {
    if (ids.length === 0) return [];
    return (await this.redis.livequeueCancel(queueKeyPrefix(queue), this.prefix, batch ?? '', BATCH_TTL_SECONDS, ...ids)) as CancelAnswer[];
  }

  /** Claims for an undo of `batch` the bans among `ids` it still owns, each once. */
  async claimUndo(batch: string, ids: readonly string[], legacy: boolean): Promise<ClaimAnswer[]> {
    if (ids.length === 0) return [];
    return (await this.redis.livequeueUndoClaim(batchKeys(this.prefix, batch).undo, this.prefix, batch, BATCH_TTL_SECONDS, legacy ? '1' : '0', ...ids)) as ClaimAnswer[];
  }
}
