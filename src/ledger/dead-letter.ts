import { randomUUID } from 'node:crypto';
import { defineScripts } from '../redis-scripts.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import { Queue } from '../queue/bullmq.ts';
import type { RedisClient } from '../redis.ts';
import type { RetrySchedule } from '../config.ts';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import { BatchLedger, queueKeyPrefix } from './batch-ledger.ts';
import { DEAD_LETTER_QUEUE, deadLetterIndexKey, failedMoveLeaseKey } from '../queue/names.ts';
import { jobOptions } from '../queue/job-options.ts';
import { deadLetterEntry, deadLetterEntrySchema, type DeadLetterEntry } from './dead-letter-entry.ts';

/**
 * How long a process may take to move one failed job to the dead-letter
 * queue (write the entry, remove the job) before another may take over.
 */
const FAILED_MOVE_LEASE_MS = 10_000;

/**
 * The dead set: jobs that can never succeed as sent, kept with everything
 * needed to understand and replay them. Like Sidekiq's dead set it is separate
 * from the work queues: a dead-lettered job leaves its queue, and its entry
 * here is a job of a BullMQ queue that nothing processes, so dashboards show
 * it and it persists with the rest of Redis. The entry id is the job id.
 */
export { DEAD_LETTER_REASONS, deadLetterEntrySchema, type DeadLetterEntry } from './dead-letter-entry.ts';

export interface DeadLetterFilter {
  operation?: Operation;
  code?: string;
  ids?: readonly string[];
}

const PAGE = 1000;

export interface DeadLetterPage {
  entries: DeadLetterEntry[];
  /** Entries matching the filter, all pages together. */
  total: number;
  /** Entries on this page that are not valid entries (written by hand, or by something else): skipped, named here. */
  malformed: MalformedEntry[];
}

export interface MalformedEntry {
  id: string;
  problem: string;
}

export interface ReplayResult {
  /** Entries put back on their queue (and removed from the dead set). */
  replayed: number;
  /**
   * Entries left in the dead set because a job of the same id (the same
   * stream or monitor) is pending or running already: that job does the work.
   */
  alreadyQueued: string[];
}

/** What `takeFailed` did with a job of a queue's failed set: the entry it wrote, or why it wrote none. */
export type FailedMove = { moved: true; entry: DeadLetterEntry } | { moved: false; why: 'leased' | 'not-failed' };

/**
 * Counts are kept as entries come and go, in one set of entry ids per
 * operation, so `status` and `/metrics` cost the same with 0 or 100,000
 * entries. An index that has drifted from the queue (entries written by an
 * older version, or removed behind our back) is rebuilt by `reconcile()`,
 * which every worker runs once at start.
 */
export class DeadLetterQueue {
  readonly queue: Queue;
  private readonly ledger: BatchLedger;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** The operation queues that replayed entries go back to. */
    private readonly targets: (operation: Operation) => Queue,
  ) {
    this.queue = new Queue(DEAD_LETTER_QUEUE, { connection: redis, prefix });
    this.ledger = new BatchLedger(redis, prefix);
    defineScripts(redis);
  }

  /**
   * Records an entry, replacing an older entry of the same job, and the
   * job's end for the batch it belongs to. Writing the same entry twice (two
   * processes finishing the same move) leaves one entry.
   */
  async add(entry: DeadLetterEntry): Promise<void> {
    await this.queue.remove(entry.id);
    await this.queue.add(entry.operation, entry, { jobId: entry.id });
    const index = this.redis.multi();
    for (const operation of OPERATIONS) {
      if (operation === entry.operation) index.sadd(deadLetterIndexKey(this.prefix, operation), entry.id);
      else index.srem(deadLetterIndexKey(this.prefix, operation), entry.id);
    }
    await index.exec();
    // The job stays tied to its batch: a replay runs under it again.
    await this.ledger.settle(entry.id, 'dead-lettered', { keepTie: true });
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
  async takeFailed(operation: Operation, id: string): Promise<FailedMove> {
    const lease = failedMoveLeaseKey(this.prefix, id);
    const token = randomUUID();
    if ((await this.redis.set(lease, token, 'PX', FAILED_MOVE_LEASE_MS, 'NX')) !== 'OK') return { moved: false, why: 'leased' };
    try {
      const queue = this.targets(operation);
      const replies = (await this.redis
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
      await this.add(entry);
      const removed = await this.redis.livequeueRemoveFinished(queueKeyPrefix(queue), lease, id, token);
      return removed === 'removed-failed' ? { moved: true, entry } : { moved: false, why: 'not-failed' };
    } finally {
      await this.redis.livequeueReleaseLease(lease, token);
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
  async freeJobId(operation: Operation, id: string): Promise<'free' | 'dead-lettered' | 'queued'> {
    const queue = this.targets(operation);
    const lease = failedMoveLeaseKey(this.prefix, id);
    let movedHere = false;
    // Another process holds the move for at most its lease; then the job is gone or ours to move.
    const deadline = Date.now() + FAILED_MOVE_LEASE_MS + 1000;
    for (;;) {
      const answer = await this.redis.livequeueRemoveFinished(queueKeyPrefix(queue), lease, id, '');
      if (answer === 'queued') return 'queued';
      if (answer === 'absent' || answer.startsWith('removed-')) return movedHere ? 'dead-lettered' : 'free';
      if (Date.now() > deadline) throw new Error(`job ${id} stays in its failed set: another process has been moving it to the dead-letter queue for more than ${FAILED_MOVE_LEASE_MS} ms`);
      // 'failed': move it here; 'leased': another process is moving it, wait for it.
      if (answer === 'failed') movedHere = (await this.takeFailed(operation, id)).moved || movedHere;
      else await sleep(25);
    }
  }

  /** O(1): read from the index. */
  async count(operation?: Operation): Promise<number> {
    const operations = operation ? [operation] : OPERATIONS;
    const counts = await Promise.all(operations.map((op) => this.redis.scard(deadLetterIndexKey(this.prefix, op))));
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * Rebuilds the per-operation index from the queue when the two disagree
   * (checked in O(1)); returns true if it had to.
   */
  async reconcile(): Promise<boolean> {
    const [stored, indexed] = await Promise.all([this.queue.getWaitingCount(), this.count()]);
    if (stored === indexed) return false;
    const ids = new Map<Operation, string[]>(OPERATIONS.map((op) => [op, []]));
    for await (const job of this.jobs({})) {
      const operation = (job.data as Partial<DeadLetterEntry>).operation;
      if (operation && ids.has(operation)) ids.get(operation)!.push(job.id!);
    }
    const rebuild = this.redis.multi();
    for (const [operation, list] of ids) {
      const key = deadLetterIndexKey(this.prefix, operation);
      rebuild.del(key);
      for (let i = 0; i < list.length; i += PAGE) rebuild.sadd(key, ...list.slice(i, i + PAGE));
    }
    await rebuild.exec();
    return true;
  }

  /** Every valid matching entry; malformed ones are skipped (page() names them). */
  async list(filter: DeadLetterFilter = {}): Promise<DeadLetterEntry[]> {
    return (await this.scan(filter)).entries;
  }

  private async scan(filter: DeadLetterFilter): Promise<{ entries: DeadLetterEntry[]; malformed: MalformedEntry[] }> {
    const entries: DeadLetterEntry[] = [];
    const malformed: MalformedEntry[] = [];
    for await (const job of this.jobs(filter)) {
      const parsed = entryOf(job);
      if ('problem' in parsed) malformed.push(parsed);
      else entries.push(parsed);
    }
    return { entries, malformed };
  }

  /**
   * One page of matching entries, oldest first. Without a code filter the
   * total comes from the index; with one, counting needs a pass over the
   * operation's entries.
   */
  async page(filter: DeadLetterFilter, offset: number, limit: number): Promise<DeadLetterPage> {
    if (filter.ids || filter.code) {
      const all = await this.scan(filter);
      return { entries: all.entries.slice(offset, offset + limit), total: all.entries.length, malformed: all.malformed };
    }
    const entries: DeadLetterEntry[] = [];
    const malformed: MalformedEntry[] = [];
    let skipped = 0;
    for (let start = 0; entries.length < limit; start += PAGE) {
      const page = await this.queue.getJobs(['waiting'], start, start + PAGE - 1, true);
      for (const job of page) {
        if (!job || (filter.operation && (job.data as Partial<DeadLetterEntry>).operation !== filter.operation)) continue;
        if (skipped < offset) skipped++;
        else if (entries.length < limit) {
          const parsed = entryOf(job);
          if ('problem' in parsed) malformed.push(parsed);
          else entries.push(parsed);
        }
      }
      if (page.length < PAGE) break;
    }
    return { entries, total: await this.count(filter.operation), malformed };
  }

  /** As replayEntries: how many were replayed. */
  async replay(filter: DeadLetterFilter, retry: RetrySchedule): Promise<number> {
    return (await this.replayEntries(filter, retry)).replayed;
  }

  /**
   * Puts matching entries back on their queues with fresh attempts and
   * removes them from the dead set. An entry whose job id is pending or
   * running again (the same stream enqueued since) is not replayed: BullMQ
   * would keep the queued job and drop the replay, so it stays in the dead
   * set and is named in `alreadyQueued`. A job of that id left over in its
   * queue's failed or completed set does not count as queued: it is moved to
   * the dead set (failed) or removed (completed), and the entry replayed.
   */
  async replayEntries(filter: DeadLetterFilter, retry: RetrySchedule): Promise<ReplayResult> {
    const result: ReplayResult = { replayed: 0, alreadyQueued: [] };
    for await (const job of this.jobs(filter)) {
      let entry = entryOf(job);
      // An entry that is not valid cannot be replayed: it stays, and `dlq list` names it.
      if ('problem' in entry) continue;
      const freed = await this.freeJobId(entry.operation, entry.id);
      if (freed === 'queued') {
        result.alreadyQueued.push(entry.id);
        continue;
      }
      // A failed job of the same id was just dead-lettered: its entry, the newer, replaced this one.
      if (freed === 'dead-lettered') {
        const newer = await this.queue.getJob(entry.id);
        const parsed = newer ? entryOf(newer) : entry;
        if (!('problem' in parsed)) entry = parsed;
      }
      await this.targets(entry.operation).add(entry.operation, entry.params, jobOptions(entry.id, entry.priority, retry));
      await this.removeEntry(job);
      result.replayed++;
    }
    return result;
  }

  /** Deletes matching entries for good. Returns how many were removed. */
  async purge(filter: DeadLetterFilter): Promise<number> {
    let purged = 0;
    for await (const job of this.jobs(filter)) {
      await this.removeEntry(job);
      purged++;
    }
    return purged;
  }

  private async removeEntry(job: Job): Promise<void> {
    await job.remove();
    const index = this.redis.multi();
    for (const operation of OPERATIONS) index.srem(deadLetterIndexKey(this.prefix, operation), job.id!);
    await index.exec();
  }

  async close(): Promise<void> {
    await this.queue.close();
  }

  private async *jobs(filter: DeadLetterFilter): AsyncGenerator<Job> {
    const matches = (job: Job) => {
      const entry = job.data as Partial<DeadLetterEntry>;
      return (!filter.operation || entry.operation === filter.operation) && (!filter.code || entry.code === filter.code);
    };
    if (filter.ids) {
      for (const id of filter.ids) {
        const job = await this.queue.getJob(id);
        if (job && matches(job)) yield job;
      }
      return;
    }
    // Collect first, then yield: callers remove entries while iterating, which would shift pages.
    const found: Job[] = [];
    for (let start = 0; ; start += PAGE) {
      const page = await this.queue.getJobs(['waiting'], start, start + PAGE - 1, true);
      found.push(...page.filter((job) => job && matches(job)));
      if (page.length < PAGE) break;
    }
    yield* found;
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

function entryOf(job: Job): DeadLetterEntry | MalformedEntry {
  const parsed = deadLetterEntrySchema.safeParse(job.data);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  return { id: job.id ?? '?', problem: `${issue.path.join('.') || '(entry)'}: ${issue.message}` };
}
