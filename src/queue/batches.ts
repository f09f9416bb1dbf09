import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import { batchKeys } from './names.ts';
import type { Outcomes } from './outcomes.ts';

/**
 * A batch is what a producer meant as one act: one file, one standard
 * input, one HTTP request. Every enqueue call records the jobs it added under
 * a batch id (its own, or one the producer names), so that the batch can be
 * seen and, when it was a mistake, stopped.
 *
 * Jobs that were already pending (duplicates) belong to the batch that added
 * them. A batch is kept for BATCH_TTL_SECONDS; how its finished jobs ended is
 * known for as long as their outcomes are (OUTCOME_TTL_SECONDS).
 */
export const BATCH_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
export const BATCH_ID_RULE = '1-64 letters, digits, _ . : -';
export const batchIdSchema = z.string().regex(BATCH_ID, `batch must be ${BATCH_ID_RULE}`);
const BATCH_TTL_SECONDS = 30 * 86_400;
const CHUNK = 500;

export function newBatchId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
}

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

export class Batches {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly queue: (operation: Operation) => Queue,
    private readonly outcomes: Outcomes,
  ) {}

  /** Adds jobs an enqueue call created to its batch (created on first use). */
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
    for (const key of [keys.meta, keys.jobs, keys.cancelled]) write.expire(key, BATCH_TTL_SECONDS);
    await write.exec();
  }

  async show(batch: string): Promise<BatchCounts> {
    const { operation, createdAt } = await this.meta(batch);
    const keys = batchKeys(this.prefix, batch);
    const [ids, cancelledIds] = await Promise.all([this.redis.smembers(keys.jobs), this.redis.smembers(keys.cancelled)]);
    const cancelled = new Set(cancelledIds);
    const counts: BatchCounts = {
      batch, operation, createdAt: new Date(createdAt).toISOString(), jobs: ids.length,
      waiting: 0, active: 0, applied: 0, alreadyApplied: 0, deadLettered: 0, cancelled: 0, unknown: 0,
    };
    const queue = this.queue(operation);
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const [outcomes, states] = await Promise.all([
        Promise.all(chunk.map((id) => this.outcomes.get(id))),
        Promise.all(chunk.map((id) => (cancelled.has(id) ? 'cancelled' : queue.getJobState(id)))),
      ]);
      chunk.forEach((_, j) => {
        const outcome = outcomes[j]?.outcome;
        const state = states[j];
        if (outcome === 'applied') counts.applied++;
        else if (outcome === 'already-applied') counts.alreadyApplied++;
        else if (outcome === 'dead-lettered') counts.deadLettered++;
        else if (state === 'cancelled') counts.cancelled++;
        else if (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') counts.waiting++;
        else if (state === 'active') counts.active++;
        else counts.unknown++;
      });
    }
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
      const pending = chunk.filter((_, j) => states[j] === 'waiting' || states[j] === 'delayed' || states[j] === 'prioritized');
      const removed = await Promise.all(pending.map((id) => queue.remove(id)));
      const gone = pending.filter((_, j) => removed[j] === 1);
      if (gone.length > 0) await this.redis.multi().sadd(keys.cancelled, ...gone).expire(keys.cancelled, BATCH_TTL_SECONDS).exec();
      result.cancelled += gone.length;
      // Not removed: taken by a worker between the two reads (locked), or active already.
      result.inFlight += states.filter((s) => s === 'active').length + (pending.length - gone.length);
      result.untouched += chunk.length - pending.length - states.filter((s) => s === 'active').length;
    }
    return result;
  }

  private async meta(batch: string): Promise<{ operation: Operation; createdAt: number }> {
    const raw = await this.redis.hgetall(batchKeys(this.prefix, batch).meta);
    const operation = OPERATIONS.find((op) => op === raw.operation);
    if (!operation) throw new UnknownBatchError(batch);
    return { operation, createdAt: Number(raw.createdAt ?? 0) };
  }
}
