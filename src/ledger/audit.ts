import { z } from 'zod';
import type { RedisClient } from '../redis.ts';
import { defineScripts } from '../redis-scripts.ts';
import { OPERATION_INFO, OPERATIONS, operationFromSlug, type Operation } from '../catalog/operations.ts';
import { subjectKey, type Subject } from '../jobs/targets.ts';
import { auditHead, auditKey, jobBatchKey, jobIdOfSubject, legacyAuditSubjectKey } from '../queue/names.ts';

/** Who did an act, and why: every act of a person or a program carries one. */
export interface Actor {
  /** A token's name (`moderation-bot`), `cli:<user>@<host>`, `library:<user>@<host>`. Never a token. */
  actor: string;
  reason?: string;
  /** A ticket or case number beside the reason. */
  ticket?: string;
}

export const ACTS = ['enqueue', 'cancel', 'undo', 'replay', 'purge', 'pause', 'resume', 'rate'] as const;
export type ActName = (typeof ACTS)[number];

export interface ActRecord extends Actor {
  act: ActName;
  batch?: string;
  operation?: Operation;
  /** What the act did, in numbers (enqueued, duplicates, cancelled, …). */
  counts?: Record<string, number>;
}

/** A batch with no pending job left: how its jobs ended. */
export interface BatchDoneRecord {
  batch: string;
  operation: Operation;
  counts: { jobs: number; applied: number; alreadyApplied: number; deadLettered: number; cancelled: number };
}

export interface OutcomeRecord {
  operation: Operation;
  subject: Subject;
  jobId: string;
  outcome: 'applied' | 'already-applied' | 'dead-lettered';
  code?: string;
  requestId?: string;
  attempts: number;
}

const count = z.coerce.number().int();
/** A record as read back: the stream's fields, with its id and time (and an outcome's derived job id). */
export const auditRecordSchema = z.object({
  id: z.string(),
  at: z.string(),
  kind: z.enum(['act', 'outcome', 'batch-done']),
  act: z.enum(ACTS).optional(),
  actor: z.string().optional(),
  reason: z.string().optional(),
  ticket: z.string().optional(),
  batch: z.string().optional(),
  operation: z.enum(OPERATIONS).optional(),
  stream: z.string().optional(),
  monitorId: z.string().optional(),
  jobId: z.string().optional(),
  /** `cancelled`: removed by a cancel before any call (the act's actor and reason are the cancel's). */
  outcome: z.enum(['applied', 'already-applied', 'dead-lettered', 'cancelled']).optional(),
  code: z.string().optional(),
  requestId: z.string().optional(),
  attempts: count.optional(),
  counts: z.record(z.string(), z.number()).optional(),
});
export type AuditRecord = z.output<typeof auditRecordSchema>;

/** Stream ids are `<ms>-<seq>`: the time a record was written, on Redis's clock. */
export function timeOfId(id: string): number {
  return Number(id.split('-')[0]);
}

/**
 * An account's audit trail: an append-only Redis Stream of every act (who,
 * what, why, when, with its counts) and every job's final outcome about its
 * subject (with the batch, the act's actor and reason, the code and the
 * RequestId). It keeps AUDIT_RETENTION_DAYS and at most AUDIT_MAX_ENTRIES
 * records; each subject has an index of its records, so its history is read
 * without scanning the trail. Tokens and secrets never enter it: actors are
 * names.
 */
export class AuditTrail {
  readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** The account's name: an outcome's job id is derived from it and the subject, not stored. */
    readonly account: string,
    private readonly settings: { retentionMs: number; maxEntries: number; outcomes?: boolean },
  ) {
    this.key = auditKey(prefix);
    defineScripts(redis);
  }

  async act(record: ActRecord): Promise<string> {
    const { counts, ...rest } = record;
    return (await this.append(undefined, undefined, '', { kind: 'act', ...rest, ...(counts ? { counts: JSON.stringify(counts) } : {}) })).id;
  }

  async batchDone(record: BatchDoneRecord): Promise<string> {
    return (await this.append(undefined, undefined, '', { kind: 'batch-done', batch: record.batch, operation: record.operation, counts: JSON.stringify(record.counts) })).id;
  }

  /** A job a cancel removed before any call: recorded under its subject with the cancel's actor and reason. */
  async cancelled(record: { operation: Operation; subject: Subject; jobId: string; batch?: string }, by: Actor): Promise<void> {
    const { subject, ...rest } = record;
    await this.append(subjectKey(subject), undefined, record.operation, { kind: 'outcome', ...subject, ...rest, outcome: 'cancelled', act: 'cancel', ...by });
  }

  /** A job's final outcome; the batch and the act behind it are read from the job's tie, in the same step. Returns the record's id and that batch. */
  async outcome(record: OutcomeRecord): Promise<{ id: string; batch?: string }> {
    // AUDIT_OUTCOMES=off: acts only (history, events and webhooks then see no outcome).
    if (this.settings.outcomes === false) return { id: '' };
    const { operation, subject, jobId, outcome, code, requestId, attempts } = record;
    // Always these fields in this order, '' for none: see audit.lua.
    const [subjectField, subjectValue] = 'stream' in subject ? ['stream', subject.stream] : ['monitorId', subject.monitorId];
    // The job id is stored only when it is not the one derived from the subject (see toRecord).
    const storedJobId = jobId === jobIdOfSubject(operation, this.account, subject) ? '' : jobId;
    const pairs = ['kind', 'outcome', 'operation', OPERATION_INFO[operation].slug, subjectField, subjectValue, 'jobId', storedJobId, 'outcome', outcome, 'code', code ?? '', 'requestId', requestId ?? '', 'attempts', String(attempts)];
    return this.write(subjectKey(subject), jobId, operation, pairs);
  }

  private append(subject: string | undefined, tiedJob: string | undefined, operation: string, fields: Record<string, string | number | undefined>): Promise<{ id: string; batch?: string }> {
    const pairs = Object.entries(fields).flatMap(([name, value]) => (value === undefined || value === '' ? [] : [name, name === 'operation' ? (OPERATION_INFO[value as Operation]?.slug ?? String(value)) : String(value)]));
    return this.write(subject, tiedJob, operation, pairs);
  }

  private async write(subject: string | undefined, tiedJob: string | undefined, operation: string, pairs: string[]): Promise<{ id: string; batch?: string }> {
    const head = subject === undefined ? undefined : auditHead(this.prefix, subject);
    const [id, batch] = await this.redis.livequeueAudit(
      this.key,
      head?.key ?? this.key,
      tiedJob === undefined ? this.key : jobBatchKey(this.prefix, tiedJob),
      this.prefix,
      operation,
      Date.now(),
      this.settings.retentionMs,
      this.settings.maxEntries,
      head?.field ?? '',
      ...pairs,
    );
    return { id, ...(batch ? { batch } : {}) };
  }

  /** What was recorded about a subject (the newest `limit` records), oldest first. */
  async history(subject: Subject, limit = 1000): Promise<AuditRecord[]> {
    const key = subjectKey(subject);
    const head = auditHead(this.prefix, key);
    const [chain, legacy] = await Promise.all([
      this.redis.livequeueAuditHistory(this.key, head.key, head.field, limit),
      this.legacyHistory(legacyAuditSubjectKey(this.prefix, key), limit),
    ]);
    const byId = new Map([...legacy, ...chain].map((entry) => [entry[0], entry] as const));
    // The newest `limit`, oldest first.
    const entries = [...byId.values()].sort((a, b) => byStreamId(a[0], b[0])).slice(-limit);
    const name = 'stream' in subject ? subject.stream : subject.monitorId;
    return this.records(entries).filter((record) => (record.stream ?? record.monitorId) === name);
  }

  /** Records an earlier version indexed in a sorted set per subject; none once they have aged out. */
  private async legacyHistory(index: string, limit: number): Promise<[string, string[]][]> {
    const ids = await this.redis.zrange(index, String(-limit), '-1');
    if (ids.length === 0) return [];
    const reads = this.redis.pipeline();
    for (const id of ids) reads.xrange(this.key, id, id);
    const answers = (await reads.exec()) ?? [];
    return answers.flatMap(([error, found]) => (error ? [] : (found as [string, string[]][])));
  }

  /** Stream entries as records, with what they leave to be derived. */
  records(entries: readonly [string, string[]][]): AuditRecord[] {
    return entries.flatMap((entry) => toRecord(entry, this.account));
  }

  /** Records after `afterId` (exclusive; '0' for the oldest), up to `untilMs`, at most `limit`. */
  async page(afterId: string, untilMs: number | undefined, limit: number): Promise<AuditRecord[]> {
    const entries = (await this.redis.xrange(this.key, `(${afterId}`, untilMs === undefined ? '+' : String(untilMs), 'COUNT', limit)) as [string, string[]][];
    return this.records(entries);
  }
}

/** Stream ids (`<ms>-<seq>`) in time order. */
function byStreamId(a: string, b: string): number {
  const [aMs, aSeq] = a.split('-').map(Number) as [number, number];
  const [bMs, bSeq] = b.split('-').map(Number) as [number, number];
  return aMs - bMs || aSeq - bSeq;
}

/** A stream entry as a record; one that does not read as one (written by hand) is left out. */
export function toRecord([id, flat]: readonly [string, string[]], account: string): AuditRecord[] {
  const fields: Record<string, unknown> = { id, at: new Date(timeOfId(id)).toISOString() };
  // An empty value is a field with nothing to say (outcomes always carry every field).
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i + 1] !== '') fields[flat[i]!] = flat[i + 1];
  if (typeof fields.counts === 'string') fields.counts = safeJson(fields.counts);
  // The trail stores an operation by its slug (records of earlier versions, by its name).
  if (typeof fields.operation === 'string') fields.operation = operationFromSlug(fields.operation) ?? fields.operation;
  const parsed = auditRecordSchema.safeParse(fields);
  if (!parsed.success) return [];
  const record = parsed.data;
  if (record.kind === 'outcome' && record.jobId === undefined && record.operation !== undefined) {
    const subject = record.stream !== undefined ? { stream: record.stream } : record.monitorId !== undefined ? { monitorId: record.monitorId } : undefined;
    if (subject) record.jobId = jobIdOfSubject(record.operation, account, subject);
  }
  return [record];
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
