import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis.ts';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import { resumeParamsOf, type ForbidParams } from '../jobs/schemas.ts';
import { BATCH_TTL_SECONDS } from '../jobs/batch-id.ts';
import { BatchLedger, type JobEnd } from '../ledger/batch-ledger.ts';
import { banOwnerKey, batchKeys, jobBatchKey, jobId } from '../queue/names.ts';
import type { Outcomes } from '../ledger/outcomes.ts';
import { LivequeueError } from '../errors.ts';

export { BATCH_ID, BATCH_ID_RULE, batchIdSchema, newBatchId } from '../jobs/batch-id.ts';

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
 */
const CHUNK = 500;
const PENDING_STATES = ['waiting', 'delayed', 'prioritized'] as const;
/** 2: outcomes and standing bans are recorded per batch. */
const BATCH_VERSION = '2';

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

export interface CancelResult {
  batch: string;
  /** Removed before any call: no call will ever be made for them. */
  cancelled: number;
  /** Taken by a worker already: they finish. */
  inFlight: number;
  /** Finished, or cancelled before. */
  untouched: number;
  /** Of the untouched: the stream is queued, or was last enqueued, under a later batch, whose job it is. */
  superseded: number;
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
  /**
   * Bans this batch applied that are no longer its own: banned again by a
   * later batch after a lift, or lifted since. Undo leaves them.
   */
  supersededBans: number;
}

export interface CancelAllResult {
  /** Pending jobs removed before any call, by operation. */
  cancelled: Partial<Record<Operation, number>>;
}

export class UnknownBatchError extends LivequeueError {
  constructor(readonly batch: string) {
    super('unknown-batch', `unknown batch "${batch}": no enqueue recorded it in this account (or it is older than ${BATCH_TTL_SECONDS / 86_400} days)`);
  }
}

export class BatchOperationMismatchError extends LivequeueError {
  constructor(batch: string, recorded: Operation, asked: Operation) {
    super('batch-operation-mismatch', `batch "${batch}" holds ${recorded} jobs; name another batch for ${asked}`);
  }
}

export class BatchNotUndoableError extends LivequeueError {
  constructor(batch: string, operation: Operation) {
    super(
      'batch-not-undoable',
      operation === 'StopLiveStreamMonitor'
        ? `batch "${batch}" stopped monitors, and a stopped monitor cannot be restarted through this API, so there is nothing to undo; \`livequeue batch cancel ${batch}\` stops the stops still pending`
        : `batch "${batch}" holds ${operation} jobs: only a batch of bans (ForbidLiveStream) can be undone`,
    );
  }
}

/** `--all` without the right count: nothing was removed. */
export class CancelAllNotConfirmedError extends LivequeueError {
  constructor(readonly pending: number, confirmed: number | undefined) {
    super(
      'cancel-all-not-confirmed',
      confirmed === undefined
        ? `${pending} jobs are pending in this account; to cancel all of them, repeat with --confirm ${pending}`
        : `${pending} jobs are pending now, more than the ${confirmed} confirmed; nothing was cancelled; repeat with --confirm ${pending}`,
    );
  }

  /** Over HTTP the count goes in the body's `confirm`. */
  override get httpMessage(): string {
    return this.message.replace('--confirm', '"confirm":');
  }

  override get httpFields(): Record<string, unknown> {
    return { pending: this.pending };
  }
}

const isPending = (state: string) => (PENDING_STATES as readonly string[]).includes(state) || state === 'waiting-children';

interface BatchMeta {
  operation: Operation;
  createdAt: number;
  undoAt?: number;
  /** Recorded before outcomes and standing bans were kept per batch. */
  legacy: boolean;
}

/** What batches need of the account's queues: each queue, and a way to enqueue an undo's lifts. */
export interface BatchQueues {
  queue(operation: Operation): Queue;
  /** Enqueues lifts tied to `batch` (Intake.add). */
  addLifts(records: readonly { params: unknown }[], batch: string): Promise<unknown>;
}

export class Batches {
  private readonly ledger: BatchLedger;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly account: string,
    private readonly queues: BatchQueues,
    private readonly outcomes: Outcomes,
  ) {
    this.ledger = new BatchLedger(redis, prefix);
  }

  private queue(operation: Operation): Queue {
    return this.queues.queue(operation);
  }

  /**
   * Adds jobs an enqueue call created to its batch (created on first use;
   * called with no ids first, so a batch named for another operation is
   * refused before anything is enqueued). The producer has already tied each
   * job to the batch (Intake.add), before a worker could take it.
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
    if (operation === 'ResumeLiveStream') {
      const ban = jobId('ForbidLiveStream', this.account, params as ForbidParams);
      await this.ledger.settle(id, outcome, { ban: { id: ban, change: 'clear' }, undone: true });
      return;
    }
    // A ban that existed already was someone else's: undo leaves it, and so does the ledger.
    if (operation !== 'ForbidLiveStream' || outcome !== 'applied') {
      await this.ledger.settle(id, outcome);
      return;
    }
    // A Oneshot=yes ban only interrupted a session: it lists nothing, so it owns no standing ban.
    const lists = (params as ForbidParams).Oneshot !== 'yes';
    // The ban is kept before undoAt is read, while undo sets undoAt before it
    // reads the applied bans: one of the two always sees the other.
    const { batch, undoAsked } = await this.ledger.settle(id, outcome, { params, ...(lists ? { ban: { id, change: 'take' as const } } : {}) });
    if (batch !== undefined && undoAsked) await this.enqueueResumes(batch, [[id, JSON.stringify(params)]]);
  }

  /** Called as a job is dead-lettered: the end is recorded for its batch, which it stays tied to (a replay runs under it). */
  async deadLettered(id: string): Promise<void> {
    await this.ledger.settle(id, 'dead-lettered', { keepTie: true });
  }

  async show(batch: string): Promise<BatchCounts> {
    const { operation, createdAt, undoAt, legacy } = await this.meta(batch);
    const keys = batchKeys(this.prefix, batch);
    const [ids, cancelledIds, appliedBans, claimedIds, undone, own] = await Promise.all([
      this.redis.smembers(keys.jobs),
      this.redis.smembers(keys.cancelled),
      this.redis.hgetall(keys.applied),
      this.redis.smembers(keys.undo),
      this.redis.scard(keys.undone),
      this.redis.hgetall(keys.outcomes),
    ]);
    const cancelled = new Set(cancelledIds);
    const claimed = new Set(claimedIds);
    const counts: BatchCounts = {
      batch, operation, createdAt: new Date(createdAt).toISOString(), jobs: ids.length,
      waiting: 0, active: 0, applied: 0, alreadyApplied: 0, deadLettered: 0, cancelled: 0, unknown: 0, superseded: 0,
      undone, undoPending: 0, undoFailed: 0,
      ...(undoAt ? { undoRequestedAt: new Date(undoAt).toISOString() } : {}),
    };
    const queue = this.queue(operation);
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const { ties, states } = await this.whereQueued(queue, batch, chunk);
      const owners = operation === 'ForbidLiveStream' ? await this.redis.mget(chunk.map((id) => banOwnerKey(this.prefix, id))) : [];
      const ends = await this.endsOf(chunk, own, appliedBans, legacy);
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
    const resumeIds = await this.resumeIdsOf(batch, [...claimed]);
    const { states: resumeStates } = await this.whereQueued(this.queue('ResumeLiveStream'), batch, resumeIds);
    const resumeEnds = await this.endsOf(resumeIds, own, {}, legacy);
    counts.undoFailed = resumeIds.filter((_, j) => resumeEnds[j] === 'dead-lettered' && !(resumeStates[j] !== undefined && (isPending(resumeStates[j]!) || resumeStates[j] === 'active'))).length;
    counts.undoPending = Math.max(0, claimed.size - undone - counts.undoFailed);
    return counts;
  }

  /**
   * Each job's tie (the batch it is queued under, or last was) and, for those
   * tied to `batch`, where it is in the queue now.
   */
  private async whereQueued(queue: Queue, batch: string, ids: readonly string[]): Promise<{ ties: (string | null)[]; states: (string | undefined)[] }> {
    if (ids.length === 0) return { ties: [], states: [] };
    const ties = await this.redis.mget(ids.map((id) => jobBatchKey(this.prefix, id)));
    const states = await Promise.all(ids.map((id, j) => (ties[j] === batch ? queue.getJobState(id) : undefined)));
    return { ties, states };
  }

  /** How this batch's own job of each id ended: recorded for the batch, or (a batch from before) the account-wide outcome. */
  private async endsOf(ids: readonly string[], own: Record<string, string>, applied: Record<string, string>, legacy: boolean): Promise<(JobEnd | undefined)[]> {
    const recorded = ids.map((id) => (own[id] as JobEnd | undefined) ?? (applied[id] !== undefined ? 'applied' : undefined));
    if (!legacy) return recorded;
    const fallback = await Promise.all(ids.map((id, j) => (recorded[j] ? undefined : this.outcomes.get(id))));
    return recorded.map((end, j) => end ?? fallback[j]?.outcome);
  }

  /**
   * Removes every job of the batch that no worker has taken, and that is
   * still this batch's: each id's owner and state are checked and the job
   * removed in one atomic step (cancel.lua), so no call is ever made for a
   * removed job, a job already taken finishes, and a stream a later batch
   * enqueued again is left to that batch.
   */
  async cancel(batch: string): Promise<CancelResult> {
    const { operation } = await this.meta(batch);
    const keys = batchKeys(this.prefix, batch);
    const queue = this.queue(operation);
    const ids = await this.redis.smembers(keys.jobs);
    const result: CancelResult = { batch, cancelled: 0, inFlight: 0, untouched: 0, superseded: 0 };
    for (let i = 0; i < ids.length; i += CHUNK) {
      for (const answer of await this.ledger.cancel(queue, batch, ids.slice(i, i + CHUNK))) {
        if (answer === 'cancelled') result.cancelled++;
        else if (answer === 'in-flight') result.inFlight++;
        else {
          result.untouched++;
          if (answer === 'other') result.superseded++;
        }
      }
    }
    return result;
  }

  /**
   * Takes a batch of bans back: cancels what is pending, then enqueues
   * ResumeLiveStream for every ban the batch applied that still stands as
   * its own. Each ban is claimed once, and only while the batch owns it
   * (undo-claim.lua), so undoing twice never resumes twice and a ban a later
   * batch made is never lifted; a ban still in flight now is lifted by the
   * worker as soon as it lands (finished()).
   */
  async undo(batch: string): Promise<UndoResult> {
    const { operation, legacy } = await this.meta(batch);
    if (operation !== 'ForbidLiveStream') throw new BatchNotUndoableError(batch, operation);
    const keys = batchKeys(this.prefix, batch);
    await this.redis.hsetnx(keys.meta, 'undoAt', Date.now());
    const cancelled = await this.cancel(batch);
    const applied = await this.redis.hgetall(keys.applied);
    const entries = Object.entries(applied);
    let resumesEnqueued = 0;
    let undoneBefore = 0;
    let interruptOnly = 0;
    let supersededBans = 0;
    for (let i = 0; i < entries.length; i += CHUNK) {
      const result = await this.enqueueResumes(batch, entries.slice(i, i + CHUNK), legacy);
      resumesEnqueued += result.enqueued;
      undoneBefore += result.claimedBefore;
      interruptOnly += result.interruptOnly;
      supersededBans += result.superseded;
    }
    return { ...cancelled, resumesEnqueued, undoneBefore, interruptOnly, alreadyApplied: await this.alreadyApplied(batch, legacy), supersededBans };
  }

  /** Jobs of the batch the API said were done already. */
  private async alreadyApplied(batch: string, legacy: boolean): Promise<number> {
    const keys = batchKeys(this.prefix, batch);
    const [ids, own, applied] = await Promise.all([this.redis.smembers(keys.jobs), this.redis.hgetall(keys.outcomes), this.redis.hgetall(keys.applied)]);
    let count = 0;
    for (let i = 0; i < ids.length; i += CHUNK) {
      const ends = await this.endsOf(ids.slice(i, i + CHUNK), own, applied, legacy);
      count += ends.filter((end) => end === 'already-applied').length;
    }
    return count;
  }

  /** Pending jobs of the account, by operation: what `cancel --all` would remove. */
  async pendingCount(operations: readonly Operation[] = OPERATIONS): Promise<number> {
    const counts = await Promise.all(operations.map((op) => this.queue(op).getJobCountByTypes(...PENDING_STATES)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * Removes every pending job of the account's operations, whichever batch
   * added it (each is counted as cancelled for its batch). Refused unless
   * `confirm` covers the pending count, so nobody empties the queues by a
   * slip of the keyboard.
   */
  async cancelAll(confirm: number | undefined, operations: readonly Operation[] = OPERATIONS): Promise<CancelAllResult> {
    const pending = await this.pendingCount(operations);
    if (confirm === undefined || pending > confirm) throw new CancelAllNotConfirmedError(pending, confirm);
    const result: CancelAllResult = { cancelled: {} };
    for (const operation of operations) {
      const queue = this.queue(operation);
      let removed = 0;
      for (;;) {
        const ids = await queue.getRanges([...PENDING_STATES], 0, CHUNK - 1, true);
        const gone = (await this.ledger.cancel(queue, undefined, ids)).filter((answer) => answer === 'cancelled').length;
        removed += gone;
        // A page with nothing removable left (all taken by workers meanwhile) ends the sweep.
        if (gone === 0) break;
      }
      result.cancelled[operation] = removed;
    }
    return result;
  }

  /**
   * Enqueues ResumeLiveStream for the bans the batch may still lift, each
   * claimed once; each entry is [ban job id, its parameters as JSON].
   */
  private async enqueueResumes(batch: string, entries: readonly [string, string][], legacy = false): Promise<{ enqueued: number; claimedBefore: number; interruptOnly: number; superseded: number }> {
    const keys = batchKeys(this.prefix, batch);
    const bans = entries.map(([id, json]) => ({ id, params: JSON.parse(json) as ForbidParams }));
    const liftable = bans.filter((b) => b.params.Oneshot !== 'yes');
    const answers = await this.ledger.claimUndo(batch, liftable.map((b) => b.id), legacy);
    const claimed = liftable.filter((_, i) => answers[i] === 'claimed');
    if (claimed.length > 0) {
      const records = claimed.map((b) => ({ params: resumeParamsOf(b.params) }));
      try {
        await this.queues.addLifts(records, batch);
      } catch (error) {
        // Not enqueued: release the claims so the next undo tries them again.
        await this.redis.srem(keys.undo, ...claimed.map((b) => b.id));
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

  /** The ResumeLiveStream job ids for claimed bans (same stream, same digest: see names.ts jobId). */
  private async resumeIdsOf(batch: string, claimed: readonly string[]): Promise<string[]> {
    if (claimed.length === 0) return [];
    const params = await this.redis.hmget(batchKeys(this.prefix, batch).applied, ...claimed);
    return params.flatMap((json) => (json ? [jobId('ResumeLiveStream', this.account, resumeParamsOf(JSON.parse(json) as ForbidParams))] : []));
  }

  private async meta(batch: string): Promise<BatchMeta> {
    const raw = await this.redis.hgetall(batchKeys(this.prefix, batch).meta);
    const operation = OPERATIONS.find((op) => op === raw.operation);
    if (!operation) throw new UnknownBatchError(batch);
    return { operation, createdAt: Number(raw.createdAt ?? 0), ...(raw.undoAt ? { undoAt: Number(raw.undoAt) } : {}), legacy: raw.version === undefined };
  }
}
