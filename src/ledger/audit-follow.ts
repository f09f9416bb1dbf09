import type { RedisClient } from '../redis.ts';
import type { AuditRecord, AuditTrail } from './audit.ts';

/** How long one read waits for new records before it yields an empty page (a chance to stop, or to keep a connection alive). */
const BLOCK_MS = 5_000;
const PAGE = 200;

export interface FollowFilter {
  batch?: string;
  operation?: string;
}

/** The records pushed to followers: outcomes and finished batches (acts are read with the trail's pages). */
export function isEvent(record: AuditRecord, filter: FollowFilter): boolean {
  if (record.kind !== 'outcome' && record.kind !== 'batch-done') return false;
  if (filter.batch !== undefined && record.batch !== filter.batch) return false;
  return filter.operation === undefined || record.operation === filter.operation;
}

/**
 * Follows an account's audit trail from `after` (a record id; undefined for
 * "from now"), page by page, on a connection of its own that blocks between
 * records (`redis` must be one: a blocking read holds it). Yields each page
 * of records, and an empty page after each quiet BLOCK_MS. Ends when `stopped`
 * says so, or when the connection fails.
 */
export async function* followTrail(redis: RedisClient, trail: AuditTrail, after: string | undefined, stopped: () => boolean): AsyncGenerator<AuditRecord[]> {
  const { key } = trail;
  // A fail-fast connection queues nothing: wait until it is up.
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  // "From now" is the trail's last id at the start, so nothing written between two reads is missed.
  let last = after ?? ((await redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0');
  while (!stopped()) {
    let answer: [string, [string, string[]][]][] | null;
    try {
      answer = (await redis.xread('COUNT', PAGE, 'BLOCK', BLOCK_MS, 'STREAMS', key, last)) as typeof answer;
    } catch (error) {
      // Stopping closes the connection under a pending read: that is the end, not a failure.
      if (stopped()) return;
      throw error;
    }
    const entries = answer?.[0]?.[1] ?? [];
    if (entries.length > 0) last = entries.at(-1)![0];
    yield trail.records(entries);
  }
}
