import { Queue } from './bullmq.ts';
import type { RedisClient } from '../redis.ts';
import type { Config } from '../config.ts';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import { parseParams, type FieldError, type ParamsByOperation } from '../jobs/schemas.ts';
import { jobBatchKey, jobId, queueName } from './names.ts';
import { jobOptions, type Priority } from './job-options.ts';
import { BATCH_TTL_SECONDS } from './batch-rules.ts';
import { DeadLetterQueue } from './dead-letter.ts';
import { announceUrgent } from './urgent-notices.ts';

export interface EnqueueRecord {
  /** Raw input; validated here before anything reaches Redis. */
  params: unknown;
  priority?: Priority;
}

export type EnqueueResult =
  | { status: 'enqueued'; jobId: string }
  /** The same stream or monitor is already pending under this id. */
  | { status: 'duplicate'; jobId: string }
  | { status: 'invalid'; errors: FieldError[] };

/**
 * Enqueues jobs for one account. Every record is validated first; valid ones
 * are added in chunks with one round trip per chunk, invalid ones come back
 * with their field-level reasons, and none is silently dropped.
 */
export class Producer {
  private readonly queues: Record<Operation, Queue>;
  /** Made on first use: only a job left over in a failed set needs it. */
  private deadLetters?: DeadLetterQueue;

  constructor(
    private readonly redis: RedisClient,
    private readonly config: Pick<Config, 'prefix' | 'account' | 'retry'>,
  ) {
    this.queues = Object.fromEntries(
      OPERATIONS.map((op) => [op, new Queue(queueName(op), { connection: redis, prefix: config.prefix })]),
    ) as Record<Operation, Queue>;
  }

  async enqueue(operation: Operation, params: unknown, priority: Priority = 'normal'): Promise<EnqueueResult> {
    const [result] = await this.enqueueBatch(operation, [{ params, priority }]);
    return result!;
  }

  /**
   * Enqueues one chunk; results line up with the records. With a batch (see
   * queue/batches.ts), each job added is tied to it before a worker can take
   * it; the caller then lists the new ids in the batch (Batches.record).
   */
  async enqueueBatch(operation: Operation, records: readonly EnqueueRecord[], batch?: string): Promise<EnqueueResult[]> {
    const results: EnqueueResult[] = new Array(records.length);
    const valid: { index: number; id: string; params: ParamsByOperation[Operation]; priority: Priority }[] = [];
    const seenInBatch = new Set<string>();
    records.forEach((record, index) => {
      const parsed = parseParams(operation, record.params);
      if (!parsed.ok) {
        results[index] = { status: 'invalid', errors: parsed.errors };
        return;
      }
      const id = jobId(operation, this.config.account, parsed.value);
      if (seenInBatch.has(id)) {
        results[index] = { status: 'duplicate', jobId: id };
        return;
      }
      seenInBatch.add(id);
      valid.push({ index, id, params: parsed.value, priority: record.priority ?? 'normal' });
    });
    if (valid.length === 0) return results;

    // BullMQ silently ignores an add whose id exists; ask first so the caller
    // learns which records were duplicates. A race with another producer only
    // means a duplicate is counted as enqueued; the job is pending either way.
    // A job that is over but still in its queue (failed, or completed) does
    // not make a duplicate: its id would otherwise block the stream for good.
    const queue = this.queues[operation];
    const probe = this.redis.pipeline();
    for (const v of valid) probe.exists(queue.toKey(v.id)).zscore(queue.toKey('failed'), v.id).zscore(queue.toKey('completed'), v.id);
    const answers = (await probe.exec()) ?? [];
    const answer = (i: number) => {
      const [error, value] = answers[i] ?? [new Error('no answer'), null];
      if (error) throw error;
      return value;
    };
    const fresh: typeof valid = [];
    for (const [i, v] of valid.entries()) {
      const [exists, failed, completed] = [answer(3 * i), answer(3 * i + 1), answer(3 * i + 2)];
      // A failed leftover is dead-lettered before its id is reused, not just
      // removed: its failure (a worker killed mid-move, a job that kept
      // stalling) stays on record and its batch learns how it ended.
      let taken = exists === 1;
      if (taken && (failed !== null || completed !== null)) taken = (await this.leftovers().freeJobId(operation, v.id)) === 'queued';
      if (taken) results[v.index] = { status: 'duplicate', jobId: v.id };
      else fresh.push(v);
    }
    if (fresh.length > 0) await this.recordInBatch(batch, fresh.map((v) => v.id));
    await queue.addBulk(
      fresh.map((v) => ({ name: operation, data: v.params, opts: jobOptions(v.id, v.priority, this.config.retry) })),
    );
    for (const v of fresh) results[v.index] = { status: 'enqueued', jobId: v.id };
    await announceUrgent(this.redis, this.config.prefix, operation, fresh.filter((v) => v.priority === 'urgent').length);
    return results;
  }

  /**
   * Ties each job to its batch, so the worker that finishes it can tell the
   * batch (Batches.finished). A job enqueued without a batch has none: a tie
   * an earlier job of the same id left (a dead-lettered one keeps its tie for
   * a replay) is removed, so that job's batch never claims this one.
   */
  private async recordInBatch(batch: string | undefined, ids: readonly string[]): Promise<void> {
    const write = this.redis.multi();
    for (const id of ids) {
      if (batch === undefined) write.del(jobBatchKey(this.config.prefix, id));
      else write.set(jobBatchKey(this.config.prefix, id), batch, 'EX', BATCH_TTL_SECONDS);
    }
    await write.exec();
  }

  private leftovers(): DeadLetterQueue {
    if (!this.deadLetters) {
      const dlq = new DeadLetterQueue(this.redis, this.config.prefix, (operation) => this.queues[operation]);
      // Its connection errors are the operation queues' errors: whoever listens to those hears them.
      dlq.queue.on('error', (error) => this.queues.ForbidLiveStream.emit('error', error));
      this.deadLetters = dlq;
    }
    return this.deadLetters;
  }

  queue(operation: Operation): Queue {
    return this.queues[operation];
  }

  async close(): Promise<void> {
    await Promise.all([...OPERATIONS.map((op) => this.queues[op].close()), this.deadLetters?.close()]);
  }
}
