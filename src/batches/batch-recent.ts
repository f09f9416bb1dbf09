import type { Operation } from '../catalog/operations.ts';
import { OPERATIONS } from '../catalog/operations.ts';
import type { Actor } from '../ledger/audit.ts';
import { batchIndexKey, batchKeys } from '../queue/names.ts';
import { actorOf, type BatchContext } from './batch-context.ts';

/**
 * The account's recent batches with their progress, for the status page.
 * Read from the counters batch-ledger.lua keeps in each batch's meta hash and
 * the sizes of its sets: a fixed number of commands per batch, whatever its
 * size (batch show walks every job instead).
 */

export interface RecentBatch {
  batch: string;
  operation: Operation;
  createdAt: string;
  /** Who enqueued it, why; absent for a batch recorded before actors were. */
  by?: Actor;
  /** Who asked for its undo. */
  undoBy?: Actor;
  undoRequestedAt?: string;
  /** When its last job ended (or was cancelled); absent while it has pending jobs. */
  doneAt?: string;
  jobs: number;
  applied: number;
  alreadyApplied: number;
  deadLettered: number;
  cancelled: number;
  /** Jobs neither ended nor cancelled: what a cancel would stop (less those in flight). */
  pending: number;
  /** Bans it applied, kept for undo (Oneshot=yes ones included, which undo does not lift). */
  appliedBans: number;
  /** Of those, the ones an undo already claimed for a lift. */
  undoClaimed: number;
}

const META_FIELDS = ['operation', 'createdAt', 'doneAt', 'undoAt', 'ended', 'ended:applied', 'ended:already-applied', 'ended:dead-lettered', 'actor', 'reason', 'ticket', 'undoActor', 'undoReason', 'undoTicket'] as const;

/** Batches created since `sinceMs`, newest first, at most `limit`. */
export async function recentBatches(ctx: BatchContext, sinceMs: number, limit: number): Promise<RecentBatch[]> {
  const ids = await ctx.redis.zrevrangebyscore(batchIndexKey(ctx.prefix), '+inf', Math.floor(sinceMs), 'LIMIT', 0, limit);
  if (ids.length === 0) return [];
  const read = ctx.redis.pipeline();
  for (const batch of ids) {
    const keys = batchKeys(ctx.prefix, batch);
    read.hmget(keys.meta, ...META_FIELDS).scard(keys.jobs).scard(keys.cancelled).hlen(keys.applied).scard(keys.undo);
  }
  const replies = ((await read.exec()) ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
  return ids.flatMap((batch, i) => {
    const [meta, jobs, cancelled, appliedBans, undoClaimed] = replies.slice(i * 5, i * 5 + 5) as [(string | null)[], number, number, number, number];
    const recent = recentOf(batch, meta, { jobs, cancelled, appliedBans, undoClaimed });
    // Expired meanwhile (its keys outlive the index entry by at most a day's trim).
    return recent ? [recent] : [];
  });
}

function recentOf(batch: string, meta: (string | null)[], sizes: Pick<RecentBatch, 'jobs' | 'cancelled' | 'appliedBans' | 'undoClaimed'>): RecentBatch | undefined {
  const raw = Object.fromEntries(META_FIELDS.flatMap((field, i) => (meta[i] == null ? [] : [[field, meta[i]!]]))) as Record<string, string>;
  const operation = OPERATIONS.find((op) => op === raw.operation);
  if (!operation) return undefined;
  const count = (field: string) => Number(raw[field] ?? 0);
  const iso = (field: string) => (raw[field] ? { [field === 'undoAt' ? 'undoRequestedAt' : field]: new Date(Number(raw[field])).toISOString() } : {});
  const by = actorOf(raw, '');
  const undoBy = actorOf(raw, 'undo');
  return {
    batch, operation, createdAt: new Date(count('createdAt')).toISOString(),
    ...(by ? { by } : {}), ...(undoBy ? { undoBy } : {}), ...iso('undoAt'), ...iso('doneAt'),
    jobs: sizes.jobs, applied: count('ended:applied'), alreadyApplied: count('ended:already-applied'), deadLettered: count('ended:dead-lettered'), cancelled: sizes.cancelled,
    pending: Math.max(0, sizes.jobs - count('ended') - sizes.cancelled),
    appliedBans: sizes.appliedBans, undoClaimed: sizes.undoClaimed,
  };
}
