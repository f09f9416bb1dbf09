import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis.ts';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import type { BatchLedger, JobEnd } from '../ledger/batch-ledger.ts';
import type { Outcomes } from '../ledger/outcomes.ts';
import type { Actor, AuditTrail } from '../ledger/audit.ts';
import { batchKeys } from '../queue/names.ts';
import { UnknownBatchError } from './batch-errors.ts';

/**
 * What the batch modules (record, report, cancel, undo) share: the account's
 * Redis and queues, and how a batch's record is read back.
 */

/** Job ids per Redis command, so no command carries a whole large batch. */
export const CHUNK = 500;
export const PENDING_STATES = ['waiting', 'delayed', 'prioritized'] as const;

export const isPending = (state: string) => (PENDING_STATES as readonly string[]).includes(state) || state === 'waiting-children';

/** What batches need of the account's queues: each queue, and a way to enqueue an undo's lifts. */
export interface BatchQueues {
  queue(operation: Operation): Queue;
  /** Enqueues lifts tied to `batch` (Intake.add). */
  addLifts(records: readonly { params: unknown }[], batch: string): Promise<unknown>;
}

export interface BatchContext {
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly account: string;
  readonly queues: BatchQueues;
  readonly outcomes: Outcomes;
  readonly ledger: BatchLedger;
  readonly audit: Pick<AuditTrail, 'act' | 'batchDone' | 'cancelled'>;
}

export interface BatchMeta {
  operation: Operation;
  createdAt: number;
  undoAt?: number;
  /** Who enqueued the batch, and why; absent for a batch recorded before actors were. */
  by?: Actor;
  /** Who asked for its undo, and why. */
  undoBy?: Actor;
  /** Recorded before outcomes and standing bans were kept per batch. */
  legacy: boolean;
}

export async function readBatchMeta(ctx: BatchContext, batch: string): Promise<BatchMeta> {
  const raw = await ctx.redis.hgetall(batchKeys(ctx.prefix, batch).meta);
  const operation = OPERATIONS.find((op) => op === raw.operation);
  if (!operation) throw new UnknownBatchError(batch);
  const by = actorOf(raw, '');
  const undoBy = actorOf(raw, 'undo');
  return {
    operation,
    createdAt: Number(raw.createdAt ?? 0),
    ...(raw.undoAt ? { undoAt: Number(raw.undoAt) } : {}),
    ...(by ? { by } : {}),
    ...(undoBy ? { undoBy } : {}),
    legacy: raw.version === undefined,
  };
}

/** The fields an actor is kept in on a batch's record: actor, reason, ticket; undoActor, undoReason, undoTicket (audit.lua reads them too). */
export function actorFields(by: Actor, prefix: '' | 'undo'): string[] {
  const name = (field: string) => (prefix === '' ? field : `${prefix}${field[0]!.toUpperCase()}${field.slice(1)}`);
  return Object.entries(by).flatMap(([field, value]) => (value === undefined || value === '' ? [] : [name(field), String(value)]));
}

/** The actor kept on a batch's record (actorFields' names), if any. */
export function actorOf(raw: Record<string, string>, prefix: '' | 'undo'): Actor | undefined {
  const field = (name: string) => raw[prefix === '' ? name : `${prefix}${name[0]!.toUpperCase()}${name.slice(1)}`];
  const actor = field('actor');
  if (actor === undefined) return undefined;
  const reason = field('reason');
  const ticket = field('ticket');
  return { actor, ...(reason !== undefined ? { reason } : {}), ...(ticket !== undefined ? { ticket } : {}) };
}

/** How this batch's own job of each id ended: recorded for the batch, or (a batch from before) the account-wide outcome. */
export async function endsOf(ctx: BatchContext, ids: readonly string[], own: Record<string, string>, applied: Record<string, string>, legacy: boolean): Promise<(JobEnd | undefined)[]> {
  const recorded = ids.map((id) => (own[id] as JobEnd | undefined) ?? (applied[id] !== undefined ? 'applied' : undefined));
  if (!legacy) return recorded;
  const fallback = await Promise.all(ids.map((id, j) => (recorded[j] ? undefined : ctx.outcomes.get(id))));
  return recorded.map((end, j) => end ?? fallback[j]?.outcome);
}
