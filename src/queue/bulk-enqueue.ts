import { OPERATION_INFO, type Operation } from '../live/operations.ts';
import type { FieldError } from '../jobs/schemas.ts';
import type { InputRecord } from '../jobs/input.ts';
import type { Priority } from './job-options.ts';
import type { Batches } from './batches.ts';
import type { EnqueueResult, Producer } from './producer.ts';
import type { BlacklistHeadroom } from '../account/blacklist-headroom.ts';

export interface InvalidLine {
  line: number;
  errors: FieldError[];
}

export interface BulkSummary {
  read: number;
  enqueued: number;
  duplicates: number;
  invalid: InvalidLine[];
  /** Enqueued bans that add to the blacklist (not Oneshot=yes). */
  blacklistBans: number;
}

/** What an enqueue needs of an account (its runtime). */
export interface EnqueueTarget {
  producer: Producer;
  batches: Batches;
  blacklist: Pick<BlacklistHeadroom, 'noteDomains'>;
}

/** The enqueued bans that add to the blacklist, and their domains. */
export function blacklistBans(operation: Operation, records: readonly { params: unknown }[], results: readonly EnqueueResult[]): { count: number; domains: Set<string> } {
  const domains = new Set<string>();
  let count = 0;
  if (!OPERATION_INFO[operation].addsToBlacklist) return { count, domains };
  results.forEach((result, i) => {
    const params = records[i]!.params as { Oneshot?: unknown; DomainName?: unknown };
    if (result.status !== 'enqueued' || params.Oneshot === 'yes') return;
    count++;
    if (typeof params.DomainName === 'string') domains.add(params.DomainName.toLowerCase());
  });
  return { count, domains };
}

export interface BulkOptions {
  priority: Priority;
  /** The batch the enqueued jobs are recorded under. */
  batch: string;
  /** Applied to records that lack the field (e.g. --oneshot, --resume-time, --region). */
  defaults?: Record<string, string>;
  chunkSize?: number;
  onProgress?: (summary: BulkSummary) => void;
}

/**
 * Streams records into the queue in chunks (one addBulk round trip each),
 * so memory stays flat however long the input is. Invalid records are
 * collected with their line numbers; valid ones go through regardless.
 */
export async function enqueueRecords(
  target: EnqueueTarget,
  operation: Operation,
  records: AsyncIterable<InputRecord>,
  options: BulkOptions,
): Promise<BulkSummary> {
  const { producer, batches, blacklist } = target;
  const summary: BulkSummary = { read: 0, enqueued: 0, duplicates: 0, invalid: [], blacklistBans: 0 };
  // Before anything is enqueued: a batch named for another operation is refused whole.
  await batches.record(options.batch, operation, []);
  const chunkSize = options.chunkSize ?? 1000;
  let chunk: InputRecord[] = [];

  const flush = async () => {
    const readable = chunk.filter((r) => r.params !== undefined);
    const records = readable.map((r) => ({ params: { ...options.defaults, ...r.params }, priority: options.priority }));
    const results = await producer.enqueueBatch(operation, records, options.batch);
    const added = results.flatMap((r) => (r.status === 'enqueued' ? [r.jobId] : []));
    if (added.length > 0) await batches.record(options.batch, operation, added);
    const bans = blacklistBans(operation, records, results);
    summary.blacklistBans += bans.count;
    await blacklist.noteDomains(bans.domains);
    results.forEach((result, i) => {
      if (result.status === 'enqueued') summary.enqueued++;
      else if (result.status === 'duplicate') summary.duplicates++;
      else summary.invalid.push({ line: readable[i]!.line, errors: result.errors });
    });
    for (const r of chunk) if (r.error !== undefined) summary.invalid.push({ line: r.line, errors: [{ field: '(line)', message: r.error }] });
    chunk = [];
    options.onProgress?.(summary);
  };

  for await (const record of records) {
    summary.read++;
    chunk.push(record);
    if (chunk.length >= chunkSize) await flush();
  }
  if (chunk.length > 0) await flush();
  summary.invalid.sort((a, b) => a.line - b.line);
  return summary;
}
