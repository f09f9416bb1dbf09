import type { RedisClient } from '../redis.ts';
import type { Operation } from '../catalog/operations.ts';
import type { ForbidParams } from '../jobs/schemas.ts';
import { BATCH_TTL_SECONDS } from '../jobs/batch-id.ts';
import { BatchLedger } from '../ledger/batch-ledger.ts';
import { batchKeys, jobId } from '../queue/names.ts';
import type { Outcomes } from '../ledger/outcomes.ts';
import { BatchOperationMismatchError } from './batch-errors.ts';
import { CHUNK, type BatchContext, type BatchQueues } from './batch-context.ts';
import { showBatch, type BatchCounts } from './batch-report.ts';
import { cancelAll, cancelBatch, pendingCount, type CancelAllResult, type CancelResult } from './cancel.ts';
import { enqueueResumes, undoBatch, type UndoResult } from './undo.ts';

export { BATCH_ID, BATCH_ID_RULE, batchIdSchema, newBatchId } from '../jobs/batch-id.ts';
// Importers know batches by this path alone: what the parts define is exported from here too.
export { BatchNotUndoableError, BatchOperationMismatchError, CancelAllNotConfirmedError, UnknownBatchError } from './batch-errors.ts';
export type { BatchQueues } from './batch-context.ts';
export type { BatchCounts } from './batch-report.ts';
export type { CancelAllResult, CancelResult } from './cancel.ts';
export type { UndoResult } from './undo.ts';

/** 2: outcomes and standing bans are recorded per batch. */
const BATCH_VERSION = '2';

/**
 * A batch is what a producer meant as one act: one file, one standard
 * input, one HTTP request. Every enqueue call records the jobs it added under
 * a batch id (its own, or one the producer names), so that the batch can be
 * seen and, when it was a mistake, stopped (cancel) and taken back (undo).
 *
 * Jobs that were already pending (duplicates) belong to the batch that added
 * them. A batch owns its own acts, not streams: job ids are one per stream,
 * so the same stream is banned, lifted and banned again by different batches
 * over time. Each job is tied to the batch that enqueued it while it is
 * queued; its end is recorded for that batch; the standing ban of a stream
 * belongs to the batch whose ban was applied last (batch-ledger.ts). Cancel
 * and undo act only on what their batch did and still stands.
 *
 * A batch, its outcomes and the bans it applied are kept for
 * BATCH_TTL_SECONDS. A batch recorded before outcomes were kept per batch
 * (no `version` in its meta) is read as it was then, from the account-wide
 * outcomes (OUTCOME_TTL_SECONDS).
 *
 * This class records batches and their jobs' ends; showing (batch-report.ts),
 * cancelling (cancel.ts) and undoing (undo.ts) live in their own modules.
 */
export class Batches {
  private readonly ctx: BatchContext;

  constructor(redis: RedisClient, prefix: string, account: string, queues: BatchQueues, outcomes: Outcomes) {
    this.ctx = { redis, prefix, account, queues, outcomes, ledger: new BatchLedger(redis, prefix) };
  }

  /**
   * Adds jobs an enqueue call created to its batch (created on first use;
   * called with no ids first, so a batch named for another operation is
   * refused before anything is enqueued). The producer has already tied each
   * job to the batch (Intake.add), before a worker could take it.
   */
  async record(batch: string, operation: Operation, jobIds: readonly string[]): Promise<void> {
    const { redis, prefix } = this.ctx;
    const keys = batchKeys(prefix, batch);
    const [[, created], [, recorded]] = (await redis
      .multi()
      .hsetnx(keys.meta, 'operation', operation)
      .hget(keys.meta, 'operation')
      .exec()) as [[null, number], [null, string]];
    if (recorded !== operation) throw new BatchOperationMismatchError(batch, recorded as Operation, operation);
    const write = redis.multi();
    if (created === 1) write.hset(keys.meta, 'createdAt', Date.now(), 'version', BATCH_VERSION);
    for (let i = 0; i < jobIds.length; i += CHUNK) write.sadd(keys.jobs, ...jobIds.slice(i, i + CHUNK));
    for (const key of [keys.meta, keys.jobs]) write.expire(key, BATCH_TTL_SECONDS);
    await write.exec();
  }

  /**
   * Called by the worker when a job ends applied or already-applied: the end
   * is recorded for the batch the job was tied to (batch-ledger.lua). A ban
   * applied is kept for undo and now owns the stream's standing ban (and is
   * lifted at once if an undo of its batch was asked while it was in
   * flight); a lift applied ends whoever owned the ban, and counts as undone
   * for the batch whose undo enqueued it.
   */
  async finished(operation: Operation, id: string, params: unknown, outcome: 'applied' | 'already-applied'): Promise<void> {
    const { ledger, account } = this.ctx;
    if (operation === 'ResumeLiveStream') {
      const ban = jobId('ForbidLiveStream', account, params as ForbidParams);
      await ledger.settle(id, outcome, { ban: { id: ban, change: 'clear' }, undone: true });
      return;
    }
    // A ban that existed already was someone else's: undo leaves it, and so does the ledger.
    if (operation !== 'ForbidLiveStream' || outcome !== 'applied') {
      await ledger.settle(id, outcome);
      return;
    }
    // A Oneshot=yes ban only interrupted a session: it lists nothing, so it owns no standing ban.
    const lists = (params as ForbidParams).Oneshot !== 'yes';
    // The ban is kept before undoAt is read, while undo sets undoAt before it
    // reads the applied bans: one of the two always sees the other.
    const { batch, undoAsked } = await ledger.settle(id, outcome, { params, ...(lists ? { ban: { id, change: 'take' as const } } : {}) });
    if (batch !== undefined && undoAsked) await enqueueResumes(this.ctx, batch, [[id, JSON.stringify(params)]]);
  }

  /** Called as a job is dead-lettered: the end is recorded for its batch, which it stays tied to (a replay runs under it). */
  async deadLettered(id: string): Promise<void> {
    await this.ctx.ledger.settle(id, 'dead-lettered', { keepTie: true });
  }

  async show(batch: string): Promise<BatchCounts> {
    return showBatch(this.ctx, batch);
  }

  async cancel(batch: string): Promise<CancelResult> {
    return cancelBatch(this.ctx, batch);
  }

  async undo(batch: string): Promise<UndoResult> {
    return undoBatch(this.ctx, batch);
  }

  async pendingCount(operations?: readonly Operation[]): Promise<number> {
    return pendingCount(this.ctx, operations);
  }

  async cancelAll(confirm: number | undefined, operations?: readonly Operation[]): Promise<CancelAllResult> {
    return cancelAll(this.ctx, confirm, operations);
  }
}
