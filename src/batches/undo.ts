import { resumeParamsOf, type ForbidParams } from '../jobs/schemas.ts';
import { batchKeys } from '../queue/names.ts';
import { BatchNotUndoableError } from './batch-errors.ts';
import { CHUNK, endsOf, readBatchMeta, actorFields, type BatchContext } from './batch-context.ts';
import type { Actor } from '../ledger/audit.ts';
import { cancelBatch, type CancelResult } from './cancel.ts';

/** Taking a batch of bans back: what is pending is cancelled, what was applied is lifted. */

export interface UndoResult extends CancelResult {
  /** ResumeLiveStream jobs this undo enqueued, one per applied ban. */
  resumesEnqueued: number;
  /** Applied bans whose ResumeLiveStream an earlier undo enqueued already. */
  undoneBefore: number;
  /** Oneshot=yes bans only interrupted a session: nothing was listed, so nothing is lifted. */
  interruptOnly: number;
  /** Bans the API said existed already: someone else made them, so undo leaves them. */
  alreadyApplied: number;
  /**
   * Bans this batch applied that are no longer its own: banned again by a
   * later batch after a lift, or lifted since. Undo leaves them.
   */
  supersededBans: number;
}

/**
 * Takes a batch of bans back: cancels what is pending, then enqueues
 * ResumeLiveStream for every ban the batch applied that still stands as
 * its own. Each ban is claimed once, and only while the batch owns it
 * (undo-claim.lua), so undoing twice never resumes twice and a ban a later
 * batch made is never lifted; a ban still in flight now is lifted by the
 * worker as soon as it lands (Batches.finished()).
 */
export async function undoBatch(ctx: BatchContext, batch: string, by: Actor): Promise<UndoResult> {
  const { operation, legacy } = await readBatchMeta(ctx, batch);
  if (operation !== 'ForbidLiveStream') throw new BatchNotUndoableError(batch, operation);
  const keys = batchKeys(ctx.prefix, batch);
  // The first undo's actor stays: its lifts are the ones in flight, and the audit trail names it for each.
  if ((await ctx.redis.hsetnx(keys.meta, 'undoAt', Date.now())) === 1) await ctx.redis.hset(keys.meta, ...actorFields(by, 'undo'));
  const cancelled = await cancelBatch(ctx, batch, by);
  const applied = await ctx.redis.hgetall(keys.applied);
  const entries = Object.entries(applied);
  let resumesEnqueued = 0;
  let undoneBefore = 0;
  let interruptOnly = 0;
  let supersededBans = 0;
  for (let i = 0; i < entries.length; i += CHUNK) {
    const result = await enqueueResumes(ctx, batch, entries.slice(i, i + CHUNK), legacy);
    resumesEnqueued += result.enqueued;
    undoneBefore += result.claimedBefore;
    interruptOnly += result.interruptOnly;
    supersededBans += result.superseded;
  }
  return { ...cancelled, resumesEnqueued, undoneBefore, interruptOnly, alreadyApplied: await alreadyApplied(ctx, batch, legacy), supersededBans };
}

/** Jobs of the batch the API said were done already. */
async function alreadyApplied(ctx: BatchContext, batch: string, legacy: boolean): Promise<number> {
  const keys = batchKeys(ctx.prefix, batch);
  const [ids, own, applied] = await Promise.all([ctx.redis.smembers(keys.jobs), ctx.redis.hgetall(keys.outcomes), ctx.redis.hgetall(keys.applied)]);
  let count = 0;
  for (let i = 0; i < ids.length; i += CHUNK) {
    const ends = await endsOf(ctx, ids.slice(i, i + CHUNK), own, applied, legacy);
    count += ends.filter((end) => end === 'already-applied').length;
  }
  return count;
}

/**
 * Enqueues ResumeLiveStream for the bans the batch may still lift, each
 * claimed once; each entry is [ban job id, its parameters as JSON]. Also
 * called by Batches.finished() for a ban that lands after its undo was asked.
 */
export async function enqueueResumes(ctx: BatchContext, batch: string, entries: readonly [string, string][], legacy = false): Promise<{ enqueued: number; claimedBefore: number; interruptOnly: number; superseded: number }> {
  const keys = batchKeys(ctx.prefix, batch);
  const bans = entries.map(([id, json]) => ({ id, params: JSON.parse(json) as ForbidParams }));
  const liftable = bans.filter((b) => b.params.Oneshot !== 'yes');
  const answers = await ctx.ledger.claimUndo(batch, liftable.map((b) => b.id), legacy);
  const claimed = liftable.filter((_, i) => answers[i] === 'claimed');
  if (claimed.length > 0) {
    const records = claimed.map((b) => ({ params: resumeParamsOf(b.params) }));
    try {
      await ctx.queues.addLifts(records, batch);
    } catch (error) {
      // Not enqueued: release the claims so the next undo tries them again.
      await ctx.redis.srem(keys.undo, ...claimed.map((b) => b.id));
      throw error;
    }
  }
  return {
    enqueued: claimed.length,
    claimedBefore: answers.filter((a) => a === 'before').length,
    interruptOnly: bans.length - liftable.length,
    superseded: answers.filter((a) => a === 'superseded').length,
  };
}
