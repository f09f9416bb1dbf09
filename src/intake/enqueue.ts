import { OPERATION_INFO, type Operation } from '../catalog/operations.ts';
import { parseParams, type FieldError, type ParamsByOperation } from '../jobs/schemas.ts';
import type { InputRecord } from './input.ts';
import { jobId } from '../queue/names.ts';
import type { Priority } from '../queue/job-options.ts';
import type { NewJob, Producer } from '../queue/producer.ts';
import type { BatchLedger } from '../ledger/batch-ledger.ts';
import type { DeadLetterQueue } from '../ledger/dead-letter.ts';
import type { Batches } from '../batches/batches.ts';
import type { BlacklistHeadroom, BlacklistWarning } from '../blacklist/headroom.ts';
import type { Actor, AuditTrail } from '../ledger/audit.ts';

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

export interface Enqueued {
  /** One per record, in order. */
  results: EnqueueResult[];
  /** Enqueued bans that add to the blacklist (not Oneshot=yes). */
  blacklistBans: number;
  /** The bans exceed the blacklist's last known headroom: a warning, not a refusal. */
  blacklistWarning?: BlacklistWarning;
}

export interface InvalidLine {
  line: number;
  errors: FieldError[];
}

export interface StreamSummary {
  read: number;
  enqueued: number;
  duplicates: number;
  invalid: InvalidLine[];
  blacklistBans: number;
  blacklistWarning?: BlacklistWarning;
}

export interface StreamOptions {
  priority: Priority;
  /** Who enqueues, why: kept with the batch and in the audit trail. */
  by: Actor;
  /** Applied to records that lack the field (e.g. --oneshot, --resume-time, --region). */
  defaults?: Record<string, string>;
  chunkSize?: number;
  onProgress?: (summary: StreamSummary) => void;
}

/** What the intake needs of an account: each part narrowed to the calls it makes. */
export interface IntakeParts {
  account: string;
  producer: Pick<Producer, 'idStates' | 'add'>;
  ties: Pick<BatchLedger, 'tie'>;
  leftovers: Pick<DeadLetterQueue, 'freeJobId'>;
  batches: Pick<Batches, 'record'>;
  blacklist: Pick<BlacklistHeadroom, 'noteDomains' | 'preflight'>;
  audit: Pick<AuditTrail, 'act'>;
}

type Valid = NewJob & { index: number };

/** Records per round trip: one addBulk each. */
const CHUNK = 1000;

/**
 * Enqueueing, the one way in for the CLI, the HTTP API, the library and the
 * demo: validate every record (invalid ones come back with their field-level
 * reasons, valid ones go through regardless), open or check the batch, skip
 * what is already pending, tie each new job to its batch before a worker can
 * take it, add in one round trip per chunk, record the batch's jobs and the
 * bans' domains, and warn when the bans exceed the blacklist's headroom.
 */
export class Intake {
  constructor(private readonly parts: IntakeParts) {}

  /** Records under `batch`, as one act (an HTTP request, a library call). */
  async enqueue(operation: Operation, records: readonly EnqueueRecord[], batch: string, by: Actor): Promise<Enqueued> {
    // Before anything is enqueued: a batch named for another operation is refused whole.
    await this.parts.batches.record(batch, operation, [], by);
    const results: EnqueueResult[] = [];
    let bans = 0;
    for (let start = 0; start < records.length; start += CHUNK) {
      const chunk = await this.enqueueChunk(operation, records.slice(start, start + CHUNK), batch);
      results.push(...chunk.results);
      bans += chunk.blacklistBans;
    }
    const blacklistWarning = await this.parts.blacklist.preflight(bans);
    const tally = (status: EnqueueResult['status']) => results.filter((r) => r.status === status).length;
    await this.recordAct(operation, batch, by, { enqueued: tally('enqueued'), duplicates: tally('duplicate'), invalid: tally('invalid') });
    return { results, blacklistBans: bans, ...(blacklistWarning ? { blacklistWarning } : {}) };
  }

  /**
   * Streams records into the queue in chunks (one round trip each), so memory
   * stays flat however long the input is. Unreadable lines are reported with
   * their line numbers beside the invalid ones.
   */
  async enqueueStream(operation: Operation, records: AsyncIterable<InputRecord>, batch: string, options: StreamOptions): Promise<StreamSummary> {
    const summary: StreamSummary = { read: 0, enqueued: 0, duplicates: 0, invalid: [], blacklistBans: 0 };
    await this.parts.batches.record(batch, operation, [], options.by);
    const chunkSize = options.chunkSize ?? CHUNK;
    let chunk: InputRecord[] = [];
    const flush = async () => {
      const readable = chunk.filter((r) => r.params !== undefined);
      const records = readable.map((r) => ({ params: { ...options.defaults, ...r.params }, priority: options.priority }));
      const { results, blacklistBans } = await this.enqueueChunk(operation, records, batch);
      summary.blacklistBans += blacklistBans;
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
    const blacklistWarning = await this.parts.blacklist.preflight(summary.blacklistBans);
    await this.recordAct(operation, batch, options.by, { read: summary.read, enqueued: summary.enqueued, duplicates: summary.duplicates, invalid: summary.invalid.length });
    return blacklistWarning ? { ...summary, blacklistWarning } : summary;
  }

  private async recordAct(operation: Operation, batch: string, by: Actor, counts: Record<string, number>): Promise<void> {
    await this.parts.audit.act({ act: 'enqueue', ...by, batch, operation, counts });
  }

  /**
   * Adds jobs tied to `tieTo` (to none when undefined) without listing them
   * in its batch: the lifts an undo enqueues belong to the bans' batch but
   * are not of its operation.
   */
  async add(operation: Operation, records: readonly EnqueueRecord[], tieTo?: string): Promise<EnqueueResult[]> {
    return this.addListed(operation, records, tieTo, false);
  }

  /**
   * Adds the records' new jobs, tied to `batch` and, with `listed`, in its
   * job list: both before a worker can take a job, so the job's end is
   * counted for the batch however fast it comes.
   */
  private async addListed(operation: Operation, records: readonly EnqueueRecord[], batch: string | undefined, listed: boolean): Promise<EnqueueResult[]> {
    const results: EnqueueResult[] = new Array(records.length);
    const valid = this.validate(operation, records, results);
    const fresh = await this.withoutPending(operation, valid, results);
    const ids = fresh.map((v) => v.id);
    await this.parts.ties.tie(batch, ids);
    if (listed && batch !== undefined && ids.length > 0) await this.parts.batches.record(batch, operation, ids);
    await this.parts.producer.add(operation, fresh);
    for (const v of fresh) results[v.index] = { status: 'enqueued', jobId: v.id };
    return results;
  }

  private async enqueueChunk(operation: Operation, records: readonly EnqueueRecord[], batch: string): Promise<{ results: EnqueueResult[]; blacklistBans: number }> {
    const results = await this.addListed(operation, records, batch, true);
    const bans = blacklistBans(operation, records, results);
    await this.parts.blacklist.noteDomains(bans.domains);
    return { results, blacklistBans: bans.count };
  }

  /** Parses every record; an invalid one, or a repeat within the chunk, gets its result here. */
  private validate(operation: Operation, records: readonly EnqueueRecord[], results: EnqueueResult[]): Valid[] {
    const valid: Valid[] = [];
    const seen = new Set<string>();
    records.forEach((record, index) => {
      const parsed = parseParams(operation, record.params);
      if (!parsed.ok) {
        results[index] = { status: 'invalid', errors: parsed.errors };
        return;
      }
      const id = jobId(operation, this.parts.account, parsed.value as ParamsByOperation[Operation]);
      if (seen.has(id)) {
        results[index] = { status: 'duplicate', jobId: id };
        return;
      }
      seen.add(id);
      valid.push({ index, id, params: parsed.value, priority: record.priority ?? 'normal' });
    });
    return valid;
  }

  /**
   * Leaves out jobs already pending under the same id. A race with another
   * producer only means a duplicate is counted as enqueued: the job is
   * pending either way. A job that ended but is still in its queue does not
   * make a duplicate (its id would block the stream for good): a failed
   * leftover is dead-lettered first, so its failure stays on record and its
   * batch learns how it ended.
   */
  private async withoutPending(operation: Operation, valid: readonly Valid[], results: EnqueueResult[]): Promise<Valid[]> {
    if (valid.length === 0) return [];
    const states = await this.parts.producer.idStates(operation, valid.map((v) => v.id));
    const fresh: Valid[] = [];
    for (const [i, v] of valid.entries()) {
      let taken = states[i] === 'pending';
      if (states[i] === 'ended') taken = (await this.parts.leftovers.freeJobId(operation, v.id)) === 'queued';
      if (taken) results[v.index] = { status: 'duplicate', jobId: v.id };
      else fresh.push(v);
    }
    return fresh;
  }
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
