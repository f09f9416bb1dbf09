import type { RedisClient } from '../redis.ts';
import type { Operation } from '../catalog/operations.ts';
import type { ForbidParams } from '../jobs/schemas.ts';
import { BATCH_TTL_SECONDS } from '../jobs/batch-id.ts';
import { BatchLedger } from '../ledger/batch-ledger.ts';
import { batchIndexKey, batchKeys, jobId } from '../queue/names.ts';
import type { Outcomes } from '../ledger/outcomes.ts';
import type { Actor, AuditTrail } from '../ledger/audit.ts';
import { BatchOperationMismatchError } from './batch-errors.ts';
import { actorFields, CHUNK, type BatchContext, type BatchQueues } from './batch-context.ts';
import { showBatch, type BatchCounts } from './batch-report.ts';
import { cancelAll, cancelBatch, pendingCount, type CancelAllResult, type CancelResult } from './cancel.ts';
import { enqueueResumes, undoBatch, type UndoResult } from './undo.ts';
import { recentBatches, type RecentBatch } from './batch-recent.ts';

export { BATCH_ID, BATCH_ID_RULE, batchIdSchema, newBatchId } from '../jobs/batch-id.ts';
// Importers know batches by this path alone: what the parts define is exported from here too.
export { BatchNotUndoableError, BatchOperationMismatchError, CancelAllNotConfirmedError, UnknownBatchError } from './batch-errors.ts';
export type { BatchQueues } from './batch-context.ts';
export type { BatchCounts } from './batch-report.ts';
export type { CancelAllResult, CancelResult } from './cancel.ts';
export type { UndoResult } from './undo.ts';
export type { RecentBatch } from './batch-recent.ts';

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

  constructor(redis: RedisClient, prefix: string, account: string, queues: BatchQueues, outcomes: Outcomes, audit: Pick<AuditTrail, 'act' | 'batchDone' | 'cancelled'>) {
    this.ctx = { redis, prefix, account, queues, outcomes, audit, ledger: new BatchLedger(redis, prefix) };
  }

  /**
   * Adds jobs an enqueue call created to its batch (created on first use;
   * called with no ids first, so a batch named for another operation is
   * refused before anything is enqueued). The producer has already tied each
   * job to the batch (Intake.add), before a worker could take it. The
   * batch's creator (`by`) is kept with it; a batch named again keeps its first.
   */
  async record(batch: string, operation: Operation, jobIds: readonly string[], by?: Actor): Promise<void> {
    const { redis, prefix } = this.ctx;
    const keys = batchKeys(prefix, batch);
    const [[, created], [, recorded]] = (await redis
      .multi()
      .hsetnx(keys.meta, 'operation', operation)
      .hget(keys.meta, 'operation')
      .exec()) as [[null, number], [null, string]];
    if (recorded !== operation) throw new BatchOperationMismatchError(batch, recorded as Operation, operation);
    const write = redis.multi();
    const now = Date.now();
    if (created === 1) write.hset(keys.meta, 'createdAt', now, 'version', BATCH_VERSION, ...(by ? actorFields(by, '') : []));
    // The account's batches by creation time, for recent(); what has expired leaves it.
    if (created === 1) write.zadd(batchIndexKey(prefix), now, batch).zremrangebyscore(batchIndexKey(prefix), '-inf', now - BATCH_TTL_SECONDS * 1000).expire(batchIndexKey(prefix), BATCH_TTL_SECONDS);
    for (let i = 0; i < jobIds.length; i += CHUNK) write.sadd(keys.jobs, ...jobIds.slice(i, i + CHUNK));
    // A batch that grows is not done any more: its new jobs end it again.
    if (jobIds.length > 0) write.hdel(keys.meta, 'doneAt');
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
      await this.announceIfDone(await ledger.settle(id, outcome, { ban: { id: ban, change: 'clear' }, undone: true }));
      return;
    }
    // A ban that existed already was someone else's: undo leaves it, and so does the ledger.
    if (operation !== 'ForbidLiveStream' || outcome !== 'applied') {
      await this.announceIfDone(await ledger.settle(id, outcome));
      return;
    }
    // A Oneshot=yes ban only interrupted a session: it lists nothing, so it owns no standing ban.
    const lists = (params as ForbidParams).Oneshot !== 'yes';
    // The ban is kept before undoAt is read, while undo sets undoAt before it
    // reads the applied bans: one of the two always sees the other.
    const settled = await ledger.settle(id, outcome, { params, ...(lists ? { ban: { id, change: 'take' as const } } : {}) });
    if (settled.batch !== undefined && settled.undoAsked) await enqueueResumes(this.ctx, settled.batch, [[id, JSON.stringify(params)]]);
    await this.announceIfDone(settled);
  }

  /** Called as a job is dead-lettered: the end is recorded for its batch, which it stays tied to (a replay runs under it). */
  async deadLettered(id: string): Promise<void> {
    await this.announceIfDone(await this.ctx.ledger.settle(id, 'dead-lettered', { keepTie: true }));
  }

  /** The job that ended was the batch's last: the trail (and so SSE and webhooks) says so, with how its jobs ended. */
  private async announceIfDone(settled: { batch?: string; done: boolean }): Promise<void> {
    if (settled.batch !== undefined && settled.done) await this.announceDone(settled.batch);
  }

  private async announceDone(batch: string): Promise<void> {
    const keys = batchKeys(this.ctx.prefix, batch);
    const [[, meta], [, jobs], [, cancelled]] = (await this.ctx.redis
      .multi()
      .hmget(keys.meta, 'operation', 'ended:applied', 'ended:already-applied', 'ended:dead-lettered')
      .scard(keys.jobs)
      .scard(keys.cancelled)
      .exec()) as [[null, (string | null)[]], [null, number], [null, number]];
    const [operation, applied, alreadyApplied, deadLettered] = meta;
    const counts = { jobs, applied: Number(applied ?? 0), alreadyApplied: Number(alreadyApplied ?? 0), deadLettered: Number(deadLettered ?? 0), cancelled };
    await this.ctx.audit.batchDone({ batch, operation: operation as Operation, counts });
  }

  /** A cancel that removed a batch's last pending jobs completes it too. */
  private async announceIfCancelledDone(batch: string): Promise<void> {
    const keys = batchKeys(this.ctx.prefix, batch);
    const [[, ended], [, cancelled], [, jobs]] = (await this.ctx.redis.multi().hget(keys.meta, 'ended').scard(keys.cancelled).scard(keys.jobs).exec()) as [[null, string | null], [null, number], [null, number]];
    if (Number(ended ?? 0) + cancelled < jobs) return;
    if ((await this.ctx.redis.hsetnx(keys.meta, 'doneAt', Date.now())) === 1) await this.announceDone(batch);
  }

  /** Batches created since `sinceMs`, newest first, with their progress from counters (batch-recent.ts). */
  async recent(sinceMs: number, limit = 200): Promise<RecentBatch[]> {
    return recentBatches(this.ctx, sinceMs, limit);
  }

  async show(batch: string): Promise<BatchCounts> {
    return showBatch(this.ctx, batch);
  }

  async cancel(batch: string, by: Actor): Promise<CancelResult> {
    const result = await cancelBatch(this.ctx, batch, by);
    await this.ctx.audit.act({ act: 'cancel', ...by, batch, counts: { cancelled: result.cancelled, inFlight: result.inFlight, untouched: result.untouched } });
    if (result.cancelled > 0) await this.announceIfCancelledDone(batch);
    return result;
  }

  async undo(batch: string, by: Actor): Promise<UndoResult> {
    const result = await undoBatch(this.ctx, batch, by);
    await this.ctx.audit.act({ act: 'undo', ...by, batch, counts: { cancelled: result.cancelled, resumesEnqueued: result.resumesEnqueued, undoneBefore: result.undoneBefore } });
    if (result.cancelled > 0) await this.announceIfCancelledDone(batch);
    return result;
  }

  async pendingCount(operations?: readonly Operation[]): Promise<number> {
    return pendingCount(this.ctx, operations);
  }

  async cancelAll(confirm: number | undefined, operations: readonly Operation[] | undefined, by: Actor): Promise<CancelAllResult> {
    const result = await cancelAll(this.ctx, confirm, operations, by);
    await this.ctx.audit.act({ act: 'cancel', ...by, counts: result.cancelled as Record<string, number> });
    return result;
  }
}
