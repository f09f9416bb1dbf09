import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { RetrySchedule } from '../config.ts';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import { DEAD_LETTER_QUEUE, queueName } from './names.ts';
import { jobOptions, PRIORITIES } from './job-options.ts';

/**
 * The dead set: jobs that can never succeed as sent, kept with everything
 * needed to understand and replay them. Like Sidekiq's dead set it is separate
 * from the work queues: a dead-lettered job leaves its queue, and its entry
 * here is a job of a BullMQ queue that nothing processes, so dashboards show
 * it and it persists with the rest of Redis. The entry id is the job id.
 */
export const DEAD_LETTER_REASONS = ['terminal', 'retries-exhausted', 'invalid-payload', 'worker-failure'] as const;

export const deadLetterEntrySchema = z.object({
  id: z.string(),
  operation: z.enum(OPERATIONS),
  /** The job's data as it was stored, valid or not. */
  params: z.unknown(),
  priority: z.enum(PRIORITIES),
  reason: z.enum(DEAD_LETTER_REASONS),
  code: z.string(),
  message: z.string(),
  httpStatus: z.number().optional(),
  requestId: z.string().optional(),
  attempts: z.number().int().nonnegative(),
  firstFailedAt: z.number(),
  lastFailedAt: z.number(),
});
export type DeadLetterEntry = z.output<typeof deadLetterEntrySchema>;

export interface DeadLetterFilter {
  operation?: Operation;
  code?: string;
  ids?: readonly string[];
}

const PAGE = 1000;

export class DeadLetterQueue {
  readonly queue: Queue;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.queue = new Queue(DEAD_LETTER_QUEUE, { connection: redis, prefix });
  }

  /** Records an entry, replacing an older entry of the same job. */
  async add(entry: DeadLetterEntry): Promise<void> {
    await this.queue.remove(entry.id);
    await this.queue.add(entry.operation, entry, { jobId: entry.id });
  }

  async count(operation?: Operation): Promise<number> {
    if (!operation) return this.queue.getWaitingCount();
    return (await this.list({ operation })).length;
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetterEntry[]> {
    const entries: DeadLetterEntry[] = [];
    for await (const job of this.jobs(filter)) entries.push(entryOf(job));
    return entries;
  }

  /**
   * Puts matching entries back on their queues with fresh attempts and
   * removes them from the dead set. Returns how many were replayed.
   */
  async replay(filter: DeadLetterFilter, retry: RetrySchedule): Promise<number> {
    let replayed = 0;
    const targets = Object.fromEntries(
      OPERATIONS.map((op) => [op, new Queue(queueName(op), { connection: this.redis, prefix: this.prefix })]),
    ) as Record<Operation, Queue>;
    try {
      for await (const job of this.jobs(filter)) {
        const entry = entryOf(job);
        // Added under the same id: if the job is pending again meanwhile, BullMQ keeps the pending one.
        await targets[entry.operation].add(entry.operation, entry.params, jobOptions(entry.id, entry.priority, retry));
        await job.remove();
        replayed++;
      }
    } finally {
      await Promise.all(OPERATIONS.map((op) => targets[op].close()));
    }
    return replayed;
  }

  /** Deletes matching entries for good. Returns how many were removed. */
  async purge(filter: DeadLetterFilter): Promise<number> {
    let purged = 0;
    for await (const job of this.jobs(filter)) {
      await job.remove();
      purged++;
    }
    return purged;
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

function entryOf(job: Job): DeadLetterEntry {
  return deadLetterEntrySchema.parse(job.data);
}
