import { Queue } from './bullmq.ts';
import type { RedisClient } from '../redis.ts';
import type { RetrySchedule } from '../config.ts';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import { queueName } from './names.ts';
import { jobOptions, type Priority } from './job-options.ts';
import { announceUrgent } from './urgent-notices.ts';

/** Where a job id stands in its queue: unused, pending, or kept after it ended (failed or completed). */
export type JobIdState = 'free' | 'pending' | 'ended';

export interface NewJob {
  id: string;
  params: object;
  priority: Priority;
}

/**
 * The BullMQ side of enqueueing for one account: one queue per operation,
 * where job ids stand, and adding jobs in one round trip. What a job is, and
 * the batch it belongs to, are the intake's (intake/enqueue.ts).
 */
export class Producer {
  private readonly queues: Record<Operation, Queue>;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly retry: RetrySchedule,
  ) {
    this.queues = Object.fromEntries(
      OPERATIONS.map((op) => [op, new Queue(queueName(op), { connection: redis, prefix })]),
    ) as Record<Operation, Queue>;
  }

  queue(operation: Operation): Queue {
    return this.queues[operation];
  }

  /**
   * BullMQ silently ignores an add whose id exists, so the intake asks first:
   * one pipelined round trip for the whole chunk.
   */
  async idStates(operation: Operation, ids: readonly string[]): Promise<JobIdState[]> {
    const queue = this.queues[operation];
    const probe = this.redis.pipeline();
    for (const id of ids) probe.exists(queue.toKey(id)).zscore(queue.toKey('failed'), id).zscore(queue.toKey('completed'), id);
    const answers = (await probe.exec()) ?? [];
    const answer = (i: number) => {
      const [error, value] = answers[i] ?? [new Error('no answer'), null];
      if (error) throw error;
      return value;
    };
    return ids.map((_, i) => {
      const [exists, failed, completed] = [answer(3 * i), answer(3 * i + 1), answer(3 * i + 2)];
      if (exists !== 1) return 'free';
      return failed !== null || completed !== null ? 'ended' : 'pending';
    });
  }

  /** Adds the jobs in one round trip, then wakes every worker process for the urgent ones (queue/urgent-notices.ts). */
  async add(operation: Operation, jobs: readonly NewJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.queues[operation].addBulk(jobs.map((job) => ({ name: operation, data: job.params, opts: jobOptions(job.id, job.priority, this.retry) })));
    await announceUrgent(this.redis, this.prefix, operation, jobs.filter((job) => job.priority === 'urgent').length);
  }

  async close(): Promise<void> {
    await Promise.all(OPERATIONS.map((op) => this.queues[op].close()));
  }
}
