import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis.ts';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import { resumeParamsOf, type ForbidParams } from '../jobs/schemas.ts';
import { BATCH_TTL_SECONDS } from './batch-rules.ts';
import { batchKeys, jobBatchKey, jobId } from './names.ts';
import type { Outcomes } from './outcomes.ts';
import type { Producer } from './producer.ts';

export { BATCH_ID, BATCH_ID_RULE, batchIdSchema, newBatchId } from './batch-rules.ts';

/**
 * A batch is what a producer meant as one act: one file, one standard
 * input, one HTTP request. Every enqueue call records the jobs it added under
 * a batch id (its own, or one the producer names), so that the batch can be
 * seen and, when it was a mistake, stopped (cancel) and taken back (undo).
 *
 * Jobs that were already pending (duplicates) belong to the batch that added
 * them. A batch is kept for BATCH_TTL_SECONDS. The bans it applied are kept
 * that long too (undo needs their parameters); how its other finished jobs
 * ended is known for as long as their outcomes are (OUTCOME_TTL_SECONDS).
 */
const CHUNK = 500;
const PENDING_STATES = ['waiting', 'delayed', 'prioritized'] as const;

export interface BatchCounts {
  batch: string;
  operation: Operation;
  createdAt: string;
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
  /** Applied bans lifted again by `batch undo` (ResumeLiveStream applied). */
  undone: number;
  /** ResumeLiveStream enqueued by an undo and not finished yet. */
  undoPending: number;
  /** ResumeLiveStream dead-lettered: the ban stays; see `livequeue dlq list --operation resume-stream`. */
  undoFailed: number;
  /** When `batch undo` was first asked for this batch. */
  undoRequestedAt?: string;
}

export interface CancelResult {
  batch: string;
  /** Removed before any call: no call will ever be made for them. */
  cancelled: number;
  /** Taken by a worker already: they finish. */
  inFlight: number;
  /** Finished, or cancelled before. */
  untouched: number;
}

export interface UndoResult extends CancelResult {
  /** ResumeLiveStream jobs this undo enqueued, one per applied ban. */
  resumesEnqueued: number;
  /** Applied bans whose ResumeLiveStream an earlier undo enqueued already. */
  undoneBefore: number;
  /** Oneshot=yes bans only interrupted a session: nothing was listed, so nothing is lifted. */
  interruptOnly: number;
  /** Bans the API said existed already: someone else made them, so undo leaves them. */
  alreadyApplied: number;
}

export interface CancelAllResult {
  /** Pending jobs removed before any call, by operation. */
  cancelled: Partial<Record<Operation, number>>;
}

export class UnknownBatchError extends Error {
  constructor(readonly batch: string) {
    super(`unknown batch "${batch}": no enqueue recorded it in this account (or it is older than ${BATCH_TTL_SECONDS / 86_400} days)`);
    this.name = 'UnknownBatchError';
  }
}

export class BatchOperationMismatchError extends Error {
  constructor(batch: string, recorded: Operation, asked: Operation) {
    super(`batch "${batch}" holds ${recorded} jobs; name another batch for ${asked}`);
    this.name = 'BatchOperationMismatchError';
  }
}

export class BatchNotUndoableError extends Error {
  constructor(batch: string, operation: Operation) {
    super(
      operation === 'StopLiveStreamMonitor'
        ? `batch "${batch}" stopped monitors, and a stopped monitor cannot be restarted through this API, so there is nothing to undo; \`livequeue batch cancel ${batch}\` stops the stops still pending`
        : `batch "${batch}" holds ${operation} jobs: only a batch of bans (ForbidLiveStream) can be undone`,
    );
    this.name = 'BatchNotUndoableError';
  }
}

/** `--all` without the right count: nothing was removed. */
export class CancelAllNotConfirmedError extends Error {
  constructor(readonly pending: number, confirmed: number | undefined) {
    super(
      confirmed === undefined
        ? `${pending} jobs are pending in this account; to cancel all of them, repeat with --confirm ${pending}`
        : `${pending} jobs are pending now, more than the ${confirmed} confirmed; nothing was cancelled; repeat with --confirm ${pending}`,
    );
    this.name = 'CancelAllNotConfirmedError';
  }
}

const isPending = (state: string) => (PENDING_STATES as readonly string[]).includes(state);

export class Batches {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly account: string,
    private readonly producer: Producer,
    private readonly outcomes: Outcomes,
  ) {}

  private queue(operation: Operation): Queue {
    return this.producer.queue(operation);
  }

  /**
   * Adds jobs an enqueue call created to its batch (created on first use;
   * called with no ids first, so a batch named for another operation is
   * refused before anything is enqueued). The producer has already tied each
   * job to the batch (Producer.enqueueBatch), before a worker could take it.
   */
  async record(batch: string, operation: Operation, jobIds: readonly string[]): Promise<void> {
    const keys = batchKeys(this.prefix, batch);
    const [[, created], [, recorded]] = (await this.redis
      .multi()
      .hsetnx(keys.meta, 'operation', operation)
      .hget(keys.meta, 'operation')
      .exec()) as [[null, number], [null, string]];
    if (recorded !== operation) throw new BatchOperationMismatchError(batch, recorded as Operation, operation);
    const write = this.redis.multi();
    if (created === 1) write.hset(keys.meta, 'createdAt', Date.now());
    for (let i = 0; i < jobIds.length; i += CHUNK) write.sadd(keys.jobs, ...jobIds.slice(i, i + CHUNK));
    for (const key of [keys.meta, keys.jobs]) write.expire(key, BATCH_TTL_SECONDS);
    await write.exec();
  }

  /**
   * Called by the worker when a job ends applied or already-applied. A ban
   * the batch applied is kept for undo (and lifted at once if an undo was
   * asked while it was in flight); a ResumeLiveStream that worked counts as
   * undone for its batch.
   */
  async finished(operation: Operation, id: string, params: unknown, outcome: 'applied' | 'already-applied'): Promise<void> {
    const batch = await this.redis.getdel(jobBatchKey(this.prefix, id));
    if (batch === null) return;
    const keys = batchKeys(this.prefix, batch);
    if (operation === 'ResumeLiveStream') {
      await this.redis.multi().sadd(keys.undone, id).expire(keys.undone, BATCH_TTL_SECONDS).exec();
      return;
    }
    // A ban that existed already was someone else's: undo leaves it.
    if (operation !== 'ForbidLiveStream' || outcome !== 'applied') return;
    // Written before undoAt is read, while undo sets undoAt before it reads
    // the applied bans: one of the two always sees the other.
    const replies = await this.redis
      .multi()
      .hset(keys.applied, id, JSON.stringify(params))
      .expire(keys.applied, BATCH_TTL_SECONDS)
      .hexists(keys.meta, 'undoAt')
      .exec();
    if (replies?.[2]?.[1] === 1) await this.enqueueResumes(batch, [[id, JSON.stringify(params)]]);
  }

  async show(batch: string): Promise<BatchCounts> {
    const { operation, createdAt, undoAt } = await this.meta(batch);
    const keys = batchKeys(this.prefix, batch);
    const [ids, cancelledIds, appliedIds, claimed, undone] = await Promise.all([
      this.redis.smembers(keys.jobs),
      this.redis.smembers(keys.cancelled),
      this.redis.hkeys(keys.applied),
      this.redis.smembers(keys.undo),
      this.redis.scard(keys.undone),
    ]);
    const cancelled = new Set(cancelledIds);
    const applied = new Set(appliedIds);
    const counts: BatchCounts = {
      batch, operation, createdAt: new Date(createdAt).toISOString(), jobs: ids.length,
      waiting: 0, active: 0, applied: 0, alreadyApplied: 0, deadLettered: 0, cancelled: 0, unknown: 0,
      undone, undoPending: 0, undoFailed: 0,
      ...(undoAt ? { undoRequestedAt: new Date(undoAt).toISOString() } : {}),
    };
    const queue = this.queue(operation);
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const [outcomes, states] = await Promise.all([
        Promise.all(chunk.map((id) => (applied.has(id) ? undefined : this.outcomes.get(id)))),
        Promise.all(chunk.map((id) => (applied.has(id) || cancelled.has(id) ? 'settled' : queue.getJobState(id)))),
      ]);
      chunk.forEach((id, j) => {
        const outcome = applied.has(id) ? 'applied' : outcomes[j]?.outcome;
        const state = states[j]!;
        if (outcome === 'applied') counts.applied++;
        else if (outcome === 'already-applied') counts.alreadyApplied++;
        else if (outcome === 'dead-lettered') counts.deadLettered++;
        else if (cancelled.has(id)) counts.cancelled++;
        else if (isPending(state) || state === 'waiting-children') counts.waiting++;
        else if (state === 'active') counts.active++;
        else counts.unknown++;
      });
    }
    // A claimed ban's ResumeLiveStream either worked (undone), was dead-lettered, or is on its way.
    const resumeIds = await this.resumeIdsOf(batch, claimed);
    const resumeOutcomes = await Promise.all(resumeIds.map((id) => this.outcomes.get(id)));
    counts.undoFailed = resumeOutcomes.filter((o) => o?.outcome === 'dead-lettered').length;
    counts.undoPending = Math.max(0, claimed.length - undone - counts.undoFailed);
    return counts;
  }

  /**
   * Removes every job of the batch that no worker has taken: BullMQ removes
   * only unlocked jobs, so no call is ever made for a removed one, and a job
   * already taken finishes.
   */
  async cancel(batch: string): Promise<CancelResult> {
    const { operation } = await this.meta(batch);
    const keys = batchKeys(this.prefix, batch);
    const queue = this.queue(operation);
    const [ids, cancelledIds] = await Promise.all([this.redis.smembers(keys.jobs), this.redis.smembers(keys.cancelled)]);
    const already = new Set(cancelledIds);
    const result: CancelResult = { batch, cancelled: 0, inFlight: 0, untouched: 0 };
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK).filter((id) => !already.has(id));
      result.untouched += Math.min(CHUNK, ids.length - i) - chunk.length;
      const states = await Promise.all(chunk.map((id) => queue.getJobState(id)));
      const pending = chunk.filter((_, j) => isPending(states[j]!));
      const gone = await this.remove(queue, pending);
      if (gone.length > 0) await this.markCancelled(new Map([[batch, gone]]));
      const active = states.filter((s) => s === 'active').length;
      result.cancelled += gone.length;
      // Not removed: taken by a worker between the two reads (locked), or active already.
      result.inFlight += active + (pending.length - gone.length);
      result.untouched += chunk.length - pending.length - active;
    }
    return result;
  }

  /**
   * Takes a batch of bans back: cancels what is pending, then enqueues
   * ResumeLiveStream for every ban the batch applied. Each ban is claimed
   * once (a set in Redis), so undoing twice never resumes twice; a ban still
   * in flight now is lifted by the worker as soon as it lands (finished()).
   */
  async undo(batch: string): Promise<UndoResult> {
    const { operation } = await this.meta(batch);
    if (operation !== 'ForbidLiveStream') throw new BatchNotUndoableError(batch, operation);
    const keys = batchKeys(this.prefix, batch);
    await this.redis.hsetnx(keys.meta, 'undoAt', Date.now());
    const cancelled = await this.cancel(batch);
    const applied = await this.redis.hgetall(keys.applied);
    const entries = Object.entries(applied);
    let resumesEnqueued = 0;
    let undoneBefore = 0;
    let interruptOnly = 0;
    for (let i = 0; i < entries.length; i += CHUNK) {
      const result = await this.enqueueResumes(batch, entries.slice(i, i + CHUNK));
      resumesEnqueued += result.enqueued;
      undoneBefore += result.claimedBefore;
      interruptOnly += result.interruptOnly;
    }
    return { ...cancelled, resumesEnqueued, undoneBefore, interruptOnly, alreadyApplied: await this.alreadyApplied(batch, new Set(Object.keys(applied))) };
  }

  /** Jobs of the batch the API said were done already; only jobs the batch did not apply are looked up. */
  private async alreadyApplied(batch: string, applied: ReadonlySet<string>): Promise<number> {
    const keys = batchKeys(this.prefix, batch);
    const [ids, cancelled] = await Promise.all([this.redis.smembers(keys.jobs), this.redis.smembers(keys.cancelled)]);
    const skip = new Set(cancelled);
    const others = ids.filter((id) => !applied.has(id) && !skip.has(id));
    const outcomes = await Promise.all(others.map((id) => this.outcomes.get(id)));
    return outcomes.filter((o) => o?.outcome === 'already-applied').length;
  }

  /** Pending jobs of the account, by operation: what `cancel --all` would remove. */
  async pendingCount(operations: readonly Operation[] = OPERATIONS): Promise<number> {
    const counts = await Promise.all(operations.map((op) => this.queue(op).getJobCountByTypes(...PENDING_STATES)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * Removes every pending job of the account's operations, whichever batch
   * added it. Refused unless `confirm` covers the pending count, so nobody
   * empties the queues by a slip of the keyboard.
   */
  async cancelAll(confirm: number | undefined, operations: readonly Operation[] = OPERATIONS): Promise<CancelAllResult> {
    const pending = await this.pendingCount(operations);
    if (confirm === undefined || pending > confirm) throw new CancelAllNotConfirmedError(pending, confirm);
    const result: CancelAllResult = { cancelled: {} };
    for (const operation of operations) {
      const queue = this.queue(operation);
      let removed = 0;
      for (;;) {
        const ids = (await queue.getJobs([...PENDING_STATES], 0, CHUNK - 1)).flatMap((job) => (job?.id ? [job.id] : []));
        const gone = await this.remove(queue, ids);
        if (gone.length > 0) await this.markCancelled(await this.batchesOf(gone));
        removed += gone.length;
        // A page with nothing removable left (all taken by workers meanwhile) ends the sweep.
        if (gone.length === 0) break;
      }
      result.cancelled[operation] = removed;
    }
    return result;
  }

  private async remove(queue: Queue, ids: readonly string[]): Promise<string[]> {
    const removed = await Promise.all(ids.map((id) => queue.remove(id)));
    return ids.filter((_, j) => removed[j] === 1);
  }

  private async batchesOf(ids: readonly string[]): Promise<Map<string, string[]>> {
    const batches = await this.redis.mget(ids.map((id) => jobBatchKey(this.prefix, id)));
    const byBatch = new Map<string, string[]>();
    ids.forEach((id, i) => {
      const batch = batches[i];
      if (batch) byBatch.set(batch, [...(byBatch.get(batch) ?? []), id]);
    });
    return byBatch;
  }

  private async markCancelled(byBatch: Map<string, string[]>): Promise<void> {
    const write = this.redis.multi();
    for (const [batch, ids] of byBatch) {
      const { cancelled } = batchKeys(this.prefix, batch);
      write.sadd(cancelled, ...ids).expire(cancelled, BATCH_TTL_SECONDS);
      write.del(...ids.map((id) => jobBatchKey(this.prefix, id)));
    }
    await write.exec();
  }

  /** Enqueues ResumeLiveStream for the bans not claimed before; each entry is [ban job id, its parameters as JSON]. */
  private async enqueueResumes(batch: string, entries: readonly [string, string][]): Promise<{ enqueued: number; claimedBefore: number; interruptOnly: number }> {
    const keys = batchKeys(this.prefix, batch);
    const bans = entries.map(([id, json]) => ({ id, params: JSON.parse(json) as ForbidParams }));
    const liftable = bans.filter((b) => b.params.Oneshot !== 'yes');
    if (liftable.length === 0) return { enqueued: 0, claimedBefore: 0, interruptOnly: bans.length };
    const claim = this.redis.multi();
    for (const b of liftable) claim.sadd(keys.undo, b.id);
    claim.expire(keys.undo, BATCH_TTL_SECONDS);
    const replies = (await claim.exec()) ?? [];
    const claimed = liftable.filter((_, i) => replies[i]?.[1] === 1);
    if (claimed.length > 0) {
      const records = claimed.map((b) => ({ params: resumeParamsOf(b.params) }));
      try {
        await this.producer.enqueueBatch('ResumeLiveStream', records, batch);
      } catch (error) {
        // Not enqueued: release the claims so the next undo tries them again.
        await this.redis.srem(keys.undo, ...claimed.map((b) => b.id));
        throw error;
      }
    }
    return { enqueued: claimed.length, claimedBefore: liftable.length - claimed.length, interruptOnly: bans.length - liftable.length };
  }

  /** The ResumeLiveStream job ids for claimed bans (same stream, same digest: see names.ts jobId). */
  private async resumeIdsOf(batch: string, claimed: readonly string[]): Promise<string[]> {
    if (claimed.length === 0) return [];
    const params = await this.redis.hmget(batchKeys(this.prefix, batch).applied, ...claimed);
    return params.flatMap((json) => (json ? [jobId('ResumeLiveStream', this.account, resumeParamsOf(JSON.parse(json) as ForbidParams))] : []));
  }

  private async meta(batch: string): Promise<{ operation: Operation; createdAt: number; undoAt?: number }> {
    const raw = await this.redis.hgetall(batchKeys(this.prefix, batch).meta);
    const operation = OPERATIONS.find((op) => op === raw.operation);
    if (!operation) throw new UnknownBatchError(batch);
    return { operation, createdAt: Number(raw.createdAt ?? 0), ...(raw.undoAt ? { undoAt: Number(raw.undoAt) } : {}) };
  }
}
