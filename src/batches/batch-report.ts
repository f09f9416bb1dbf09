import type { Queue } from 'bullmq';
import type { Operation } from '../catalog/operations.ts';
import type { Actor } from '../ledger/audit.ts';
import { resumeParamsOf, type ForbidParams } from '../jobs/schemas.ts';
import { banOwnerKey, batchKeys, jobBatchKey, jobId } from '../queue/names.ts';
import { CHUNK, endsOf, isPending, readBatchMeta, type BatchContext } from './batch-context.ts';

/** `batch show`: where each job of a batch is now, or how it ended, and how far an undo got. */

export interface BatchCounts {
  batch: string;
  operation: Operation;
  createdAt: string;
  /** Who enqueued it, why, and the ticket beside the reason. */
  by?: Actor;
  /** Who asked for its undo, and why. */
  undoBy?: Actor;
  jobs: number;
  /** Not called yet (waiting, delayed or prioritized). */
  waiting: number;
  /** Taken by a worker: waiting for its slot or in its call. */
  active: number;
  applied: number;
  alreadyApplied: number;
  deadLettered: number;
  cancelled: number;
  /** Finished longer ago than OUTCOME_TTL_SECONDS: how they ended is no longer kept. */
  unknown: number;
  /**
   * Jobs of this batch whose stream is another act's now: enqueued again by a
   * later batch, or (for bans counted in applied) banned again by a later
   * batch after a lift, or lifted other than by this batch's undo. Counted in
   * their own state above as well; cancel and undo leave them.
   */
  superseded: number;
  /** Applied bans lifted again by `batch undo` (ResumeLiveStream applied). */
  undone: number;
  /** ResumeLiveStream enqueued by an undo and not finished yet. */
  undoPending: number;
  /** ResumeLiveStream dead-lettered: the ban stays; see `livequeue dlq list --operation resume-stream`. */
  undoFailed: number;
  /** When `batch undo` was first asked for this batch. */
  undoRequestedAt?: string;
}

export async function showBatch(ctx: BatchContext, batch: string): Promise<BatchCounts> {
  const { operation, createdAt, undoAt, by, undoBy, legacy } = await readBatchMeta(ctx, batch);
  const keys = batchKeys(ctx.prefix, batch);
  const [ids, cancelledIds, appliedBans, claimedIds, undone, own] = await Promise.all([
    ctx.redis.smembers(keys.jobs),
    ctx.redis.smembers(keys.cancelled),
    ctx.redis.hgetall(keys.applied),
    ctx.redis.smembers(keys.undo),
    ctx.redis.scard(keys.undone),
    ctx.redis.hgetall(keys.outcomes),
  ]);
  const cancelled = new Set(cancelledIds);
  const claimed = new Set(claimedIds);
  const counts: BatchCounts = {
    batch, operation, createdAt: new Date(createdAt).toISOString(), ...(by ? { by } : {}), ...(undoBy ? { undoBy } : {}), jobs: ids.length,
    waiting: 0, active: 0, applied: 0, alreadyApplied: 0, deadLettered: 0, cancelled: 0, unknown: 0, superseded: 0,
    undone, undoPending: 0, undoFailed: 0,
    ...(undoAt ? { undoRequestedAt: new Date(undoAt).toISOString() } : {}),
  };
  const queue = ctx.queues.queue(operation);
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    const { ties, states } = await whereQueued(ctx, queue, batch, chunk);
    const owners = operation === 'ForbidLiveStream' ? await ctx.redis.mget(chunk.map((id) => banOwnerKey(ctx.prefix, id))) : [];
    const ends = await endsOf(ctx, chunk, own, appliedBans, legacy);
    chunk.forEach((id, j) => {
      const tie = ties[j];
      const state = states[j];
      const end = ends[j];
      // Queued under this batch (again, after a replay) comes first; then how its own job ended.
      if (state !== undefined && isPending(state)) counts.waiting++;
      else if (state === 'active') counts.active++;
      else if (end === 'applied') counts.applied++;
      else if (end === 'already-applied') counts.alreadyApplied++;
      else if (end === 'dead-lettered') counts.deadLettered++;
      else if (cancelled.has(id)) counts.cancelled++;
      // Failed outside the processor: on its way to the dead-letter queue (the worker's failed-job sweep).
      else if (state === 'failed') counts.deadLettered++;
      else counts.unknown++;
      const ban = appliedBans[id];
      const lists = ban !== undefined && (JSON.parse(ban) as ForbidParams).Oneshot !== 'yes';
      const owner = owners[j] ?? null;
      const banGone = lists && end === 'applied' && !claimed.has(id) && owner !== batch && !(legacy && owner === null);
      if ((tie !== null && tie !== batch) || banGone) counts.superseded++;
    });
  }
  // A claimed ban's ResumeLiveStream either worked (undone), was dead-lettered, or is on its way.
  const resumeIds = await resumeIdsOf(ctx, batch, [...claimed]);
  const { states: resumeStates } = await whereQueued(ctx, ctx.queues.queue('ResumeLiveStream'), batch, resumeIds);
  const resumeEnds = await endsOf(ctx, resumeIds, own, {}, legacy);
  counts.undoFailed = resumeIds.filter((_, j) => resumeEnds[j] === 'dead-lettered' && !(resumeStates[j] !== undefined && (isPending(resumeStates[j]!) || resumeStates[j] === 'active'))).length;
  counts.undoPending = Math.max(0, claimed.size - undone - counts.undoFailed);
  return counts;
}

/**
 * Each job's tie (the batch it is queued under, or last was) and, for those
 * tied to `batch`, where it is in the queue now.
 */
async function whereQueued(ctx: BatchContext, queue: Queue, batch: string, ids: readonly string[]): Promise<{ ties: (string | null)[]; states: (string | undefined)[] }> {
  if (ids.length === 0) return { ties: [], states: [] };
  const ties = await ctx.redis.mget(ids.map((id) => jobBatchKey(ctx.prefix, id)));
  const states = await Promise.all(ids.map((id, j) => (ties[j] === batch ? queue.getJobState(id) : undefined)));
  return { ties, states };
}

/** The ResumeLiveStream job ids for claimed bans (same stream, same digest: see names.ts jobId). */
async function resumeIdsOf(ctx: BatchContext, batch: string, claimed: readonly string[]): Promise<string[]> {
  if (claimed.length === 0) return [];
  const params = await ctx.redis.hmget(batchKeys(ctx.prefix, batch).applied, ...claimed);
  return params.flatMap((json) => (json ? [jobId('ResumeLiveStream', ctx.account, resumeParamsOf(JSON.parse(json) as ForbidParams))] : []));
}
