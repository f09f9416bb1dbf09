import type { Operation } from '../live/operations.ts';
import type { FieldError } from '../jobs/schemas.ts';
import type { InputRecord } from '../jobs/input.ts';
import type { Priority } from './job-options.ts';
import type { Batches } from './batches.ts';
import type { Producer } from './producer.ts';

export interface InvalidLine {
  line: number;
  errors: FieldError[];
}

export interface BulkSummary {
  read: number;
  enqueued: number;
  duplicates: number;
  invalid: InvalidLine[];
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
  producer: Producer,
  batches: Batches,
  operation: Operation,
  records: AsyncIterable<InputRecord>,
  options: BulkOptions,
): Promise<BulkSummary> {
  const summary: BulkSummary = { read: 0, enqueued: 0, duplicates: 0, invalid: [] };
  // Before anything is enqueued: a batch named for another operation is refused whole.
  await batches.record(options.batch, operation, []);
  const chunkSize = options.chunkSize ?? 1000;
  let chunk: InputRecord[] = [];

  const flush = async () => {
    const readable = chunk.filter((r) => r.params !== undefined);
    const results = await producer.enqueueBatch(
      operation,
      readable.map((r) => ({ params: { ...options.defaults, ...r.params }, priority: options.priority })),
    );
    const added = results.flatMap((r) => (r.status === 'enqueued' ? [r.jobId] : []));
    if (added.length > 0) await batches.record(options.batch, operation, added);
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
