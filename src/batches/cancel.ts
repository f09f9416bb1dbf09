import type { Queue } from 'bullmq';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import { subjectOf } from '../jobs/targets.ts';
import type { Actor } from '../ledger/audit.ts';
import type { CancelAnswer } from '../ledger/batch-ledger.ts';
import { batchKeys, jobBatchKey } from '../queue/names.ts';
import { CancelAllNotConfirmedError } from './batch-errors.ts';
import { CHUNK, PENDING_STATES, readBatchMeta, type BatchContext } from './batch-context.ts';

/** Stopping what was enqueued: the pending jobs of one batch, or of the whole account. */

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

export interface CancelAllResult {
  /** Pending jobs removed before any call, by operation. */
  cancelled: Partial<Record<Operation, number>>;
}

/**
 * Removes every job of the batch that no worker has taken, and that is
 * still this batch's: each id's owner and state are checked and the job
 * removed in one atomic step (cancel.lua), so no call is ever made for a
 * removed job, a job already taken finishes, and a stream a later batch
 * enqueued again is left to that batch.
 */
export async function cancelBatch(ctx: BatchContext, batch: string, by: Actor): Promise<CancelResult> {
  const { operation } = await readBatchMeta(ctx, batch);
  const keys = batchKeys(ctx.prefix, batch);
  const queue = ctx.queues.queue(operation);
  const ids = await ctx.redis.smembers(keys.jobs);
  const result: CancelResult = { batch, cancelled: 0, inFlight: 0, untouched: 0, superseded: 0 };
  for (let i = 0; i < ids.length; i += CHUNK) {
    for (const answer of await cancelChunk(ctx, queue, operation, batch, ids.slice(i, i + CHUNK), by)) {
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

/** Pending jobs of the account, by operation: what `cancel --all` would remove. */
export async function pendingCount(ctx: BatchContext, operations: readonly Operation[] = OPERATIONS): Promise<number> {
  const counts = await Promise.all(operations.map((op) => ctx.queues.queue(op).getJobCountByTypes(...PENDING_STATES)));
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Removes every pending job of the account's operations, whichever batch
 * added it (each is counted as cancelled for its batch). Refused unless
 * `confirm` covers the pending count, so nobody empties the queues by a
 * slip of the keyboard.
 */
export async function cancelAll(ctx: BatchContext, confirm: number | undefined, operations: readonly Operation[] = OPERATIONS, by: Actor = { actor: 'unknown' }): Promise<CancelAllResult> {
  const pending = await pendingCount(ctx, operations);
  if (confirm === undefined || pending > confirm) throw new CancelAllNotConfirmedError(pending, confirm);
  const result: CancelAllResult = { cancelled: {} };
  for (const operation of operations) {
    const queue = ctx.queues.queue(operation);
    let removed = 0;
    for (;;) {
      const ids = await queue.getRanges([...PENDING_STATES], 0, CHUNK - 1, true);
      const gone = (await cancelChunk(ctx, queue, operation, undefined, ids, by)).filter((answer) => answer === 'cancelled').length;
      removed += gone;
      // A page with nothing removable left (all taken by workers meanwhile) ends the sweep.
      if (gone === 0) break;
    }
    result.cancelled[operation] = removed;
  }
  return result;
}

/**
 * Cancels one chunk, and records each job it removed in the audit trail
 * under its stream or monitor, with who cancelled it: `history` then shows
 * the ban that never went out. The jobs' parameters are read first: the
 * removal deletes them.
 */
async function cancelChunk(ctx: BatchContext, queue: Queue, operation: Operation, batch: string | undefined, ids: readonly string[], by: Actor): Promise<CancelAnswer[]> {
  if (ids.length === 0) return [];
  const [data, ties] = await Promise.all([
    ctx.redis.pipeline(ids.map((id) => ['hget', queue.toKey(id), 'data'])).exec(),
    batch === undefined ? ctx.redis.mget(ids.map((id) => jobBatchKey(ctx.prefix, id))) : Promise.resolve(ids.map(() => batch)),
  ]);
  const answers = await ctx.ledger.cancel(queue, batch, ids);
  const records = answers.flatMap((answer, i) => {
    const raw = data?.[i]?.[1];
    if (answer !== 'cancelled' || typeof raw !== 'string') return [];
    const params = safeJson(raw);
    return [{ operation, subject: subjectOf(operation, params), jobId: ids[i]!, ...(ties[i] ? { batch: ties[i]! } : {}) }];
  });
  await Promise.all(records.map((record) => ctx.audit.cancelled(record, by)));
  return answers;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
