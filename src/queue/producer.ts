import { Queue } from 'bullmq';
import type { RedisClient } from '../redis.ts';
import type { Config } from '../config.ts';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import { parseParams, type FieldError, type ParamsByOperation } from '../jobs/schemas.ts';
import { jobBatchKey, jobId, queueName } from './names.ts';
import { jobOptions, type Priority } from './job-options.ts';
import { BATCH_TTL_SECONDS } from './batch-rules.ts';
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
    const queue = this.queues[operation];
    const exists = this.redis.pipeline();
    for (const v of valid) exists.exists(`${this.config.prefix}:${queue.name}:${v.id}`);
    const answers = (await exists.exec()) ?? [];
    const fresh = valid.filter((v, i) => {
      const [error, count] = answers[i] ?? [new Error('no answer'), 0];
      if (error) throw error;
      if (count === 1) results[v.index] = { status: 'duplicate', jobId: v.id };
      return count !== 1;
    });
    if (batch !== undefined && fresh.length > 0) await this.recordInBatch(batch, fresh.map((v) => v.id));
    await queue.addBulk(
      fresh.map((v) => ({ name: operation, data: v.params, opts: jobOptions(v.id, v.priority, this.config.retry) })),
    );
    for (const v of fresh) results[v.index] = { status: 'enqueued', jobId: v.id };
    await announceUrgent(this.redis, this.config.prefix, operation, fresh.filter((v) => v.priority === 'urgent').length);
    return results;
  }

  /** Ties each job to its batch, so the worker that finishes it can tell the batch (Batches.finished). */
  private async recordInBatch(batch: string, ids: readonly string[]): Promise<void> {
    const write = this.redis.multi();
    for (const id of ids) write.set(jobBatchKey(this.config.prefix, id), batch, 'EX', BATCH_TTL_SECONDS);
    await write.exec();
  }

  queue(operation: Operation): Queue {
    return this.queues[operation];
  }

  async close(): Promise<void> {
    await Promise.all(OPERATIONS.map((op) => this.queues[op].close()));
  }
}
