import { defineScripts } from '../redis-scripts.ts';
import type { Job } from 'bullmq';
import { Queue } from '../queue/bullmq.ts';
import type { RedisClient } from '../redis.ts';
import type { RetrySchedule } from '../config.ts';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import { BatchLedger } from './batch-ledger.ts';
import { DEAD_LETTER_QUEUE, deadLetterIndexKey } from '../queue/names.ts';
import { entryOf, type DeadLetterEntry, type MalformedEntry } from './dead-letter-entry.ts';
import { freeJobId, takeFailed, type FailedMove, type FailedMoveTarget } from './dead-letter-failed-moves.ts';
import { purgeEntries, replayEntries, type DeadSet, type ReplayResult } from './dead-letter-replay.ts';

/**
 * The dead set: jobs that can never succeed as sent, kept with everything
 * needed to understand and replay them. Like Sidekiq's dead set it is separate
 * from the work queues: a dead-lettered job leaves its queue, and its entry
 * here is a job of a BullMQ queue that nothing processes, so dashboards show
 * it and it persists with the rest of Redis. The entry id is the job id.
 */
export { DEAD_LETTER_REASONS, deadLetterEntrySchema, type DeadLetterEntry, type MalformedEntry } from './dead-letter-entry.ts';
// Importers know the dead set by this path alone: what its parts define is exported from here too.
export type { FailedMove } from './dead-letter-failed-moves.ts';
export type { ReplayResult } from './dead-letter-replay.ts';

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
  /** This queue as the failed-set moves (dead-letter-failed-moves.ts) and replay and purge (dead-letter-replay.ts) see it. */
  private readonly asMoveTarget: FailedMoveTarget;
  private readonly asDeadSet: DeadSet;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** The operation queues that replayed entries go back to. */
    private readonly targets: (operation: Operation) => Queue,
  ) {
    this.queue = new Queue(DEAD_LETTER_QUEUE, { connection: redis, prefix });
    this.ledger = new BatchLedger(redis, prefix);
    defineScripts(redis);
    this.asMoveTarget = { redis, prefix, targets, add: (entry) => this.add(entry) };
    this.asDeadSet = { queue: this.queue, targets, freeJobId: (operation, id) => this.freeJobId(operation, id), removeEntry: (job) => this.removeEntry(job) };
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

  /** Moves a job left in its queue's failed set to the dead set (dead-letter-failed-moves.ts). */
  async takeFailed(operation: Operation, id: string): Promise<FailedMove> {
    return takeFailed(this.asMoveTarget, operation, id);
  }

  /** Frees a job id held by a job that is over but still in its queue (dead-letter-failed-moves.ts). */
  async freeJobId(operation: Operation, id: string): Promise<'free' | 'dead-lettered' | 'queued'> {
    return freeJobId(this.asMoveTarget, operation, id);
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

  /** Puts matching entries back on their queues, unless their job id is queued again (dead-letter-replay.ts). */
  async replayEntries(filter: DeadLetterFilter, retry: RetrySchedule): Promise<ReplayResult> {
    return replayEntries(this.asDeadSet, this.jobs(filter), retry);
  }

  /** Deletes matching entries for good. Returns how many were removed. */
  async purge(filter: DeadLetterFilter): Promise<number> {
    return purgeEntries(this.asDeadSet, this.jobs(filter));
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
