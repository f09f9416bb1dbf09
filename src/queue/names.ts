import { createHash } from 'node:crypto';
import { OPERATION_INFO, OPERATION_SLUGS, type Operation } from '../catalog/operations.ts';
import type { ParamsByOperation } from '../jobs/schemas.ts';
import { subjectOf, type Subject } from '../jobs/targets.ts';

/**
 * Every name this product writes to Redis. All keys start with the configured
 * prefix (BullMQ's `prefix`), so a hash-tagged prefix such as `{livequeue}`
 * keeps them in one Redis Cluster slot.
 */
export const DEAD_LETTER_QUEUE = 'dead-letter';

export function queueName(operation: Operation): string {
  return OPERATION_INFO[operation].slug;
}

/** The pub/sub channel on which producers announce urgent jobs of an operation (queue/urgent-notices.ts). */
export function urgentChannel(prefix: string, operation: Operation): string {
  return `${prefix}:${queueName(operation)}:urgent`;
}

/** The ids of one operation's dead-letter entries: their count in O(1). */
export function deadLetterIndexKey(prefix: string, operation: Operation): string {
  return `${prefix}:dead-letter-ids:${OPERATION_INFO[operation].slug}`;
}

export function bucketKey(prefix: string, account: string, operation: Operation): string {
  return `${prefix}:bucket:${account}:${OPERATION_INFO[operation].slug}`;
}

/**
 * An operator's rate for one (account, operation), read by bucket.lua on every
 * call (same prefix, so the same Cluster slot as the bucket); a PX expiry ends a timed one.
 */
export function rateOverrideKey(prefix: string, account: string, operation: Operation): string {
  return `${prefix}:rate-override:${account}:${OPERATION_INFO[operation].slug}`;
}

/** DescribeLiveStreamsBlockList's own quota, shared by the account's processes. */
export function describeBlockListBucketKey(prefix: string, account: string): string {
  return `${bucketKey(prefix, account, 'ForbidLiveStream')}:describe-block-list`;
}

/** One worker process per account reads the blacklist's size at a time. */
export function blacklistRefreshLeaseKey(prefix: string): string {
  return `${prefix}:blacklist-refresh-lease`;
}

export function statsKey(prefix: string, operation: Operation): string {
  return `${prefix}:stats:${OPERATION_INFO[operation].slug}`;
}

export function callsKey(prefix: string, operation: Operation, tenSecondBucket: number): string {
  return `${prefix}:calls:${OPERATION_INFO[operation].slug}:${tenSecondBucket}`;
}

/** Hash: epoch second -> API calls of the operation in it, the last 15 minutes (the status page's chart). stats.lua builds the same name from statsKey. */
export function callsPerSecondKey(prefix: string, operation: Operation): string {
  return `${statsKey(prefix, operation)}:per-second`;
}

/** Sorted set: the account's batch ids scored by creation time (ms), kept for BATCH_TTL_SECONDS (Batches.recent). */
export function batchIndexKey(prefix: string): string {
  return `${prefix}:batches-by-time`;
}

/** The hold of an operation, the streak of failures that may trip it, and the account's last successes per process (see hold.lua). */
export function holdKeys(prefix: string, account: string, operation: Operation): [hold: string, streak: string, streakJobs: string, streakTargets: string, lastSuccess: string] {
  const slug = OPERATION_INFO[operation].slug;
  return [
    `${prefix}:hold:${account}:${slug}`,
    `${prefix}:streak:${account}:${slug}`,
    `${prefix}:streak-jobs:${account}:${slug}`,
    `${prefix}:streak-targets:${account}:${slug}`,
    lastSuccessKey(prefix, account),
  ];
}

/** Process id -> when it last had a healthy answer: a host's fault stays that host's while another process succeeds. */
export function lastSuccessKey(prefix: string, account: string): string {
  return `${prefix}:last-success:${account}`;
}

/** Process id -> the host-local fault (credentials, signature, clock) that holds that process (worker/host-hold.ts). */
export function hostFaultsKey(prefix: string, account: string): string {
  return `${prefix}:host-faults:${account}`;
}

export function blacklistFullKey(prefix: string, account: string): string {
  return `${prefix}:blacklist-full:${account}`;
}

export interface BatchKeys {
  /** Hash: operation, createdAt, and undoAt once an undo was asked for. */
  meta: string;
  /** Set: the ids of the jobs the batch added. */
  jobs: string;
  /** Set: ids removed by cancel before any call. */
  cancelled: string;
  /** Hash: id -> parameters of each ban the batch applied (kept after outcomes expire: undo needs them). */
  applied: string;
  /** Set: ids of applied bans whose ResumeLiveStream was enqueued (an undo claims each once). */
  undo: string;
  /** Set: ids of the ResumeLiveStream jobs that lifted a ban of the batch. */
  undone: string;
  /**
   * Hash: job id -> how the batch's own job ended (applied, already-applied,
   * dead-lettered), for its bans and for the lifts its undo enqueued. Written
   * when the job ends, for the batch it was tied to (jobBatchKey), so a later
   * batch's job under the same id never lends this batch its outcome.
   */
  outcomes: string;
}

/** Written at prefix:batch-<kind>:<batch>; batch-ledger.lua and cancel.lua build the same names. */
export function batchKeys(prefix: string, batch: string): BatchKeys {
  const key = (kind: string) => `${prefix}:batch-${kind}:${batch}`;
  return { meta: `${prefix}:batch:${batch}`, jobs: key('jobs'), cancelled: key('cancelled'), applied: key('applied'), undo: key('undo'), undone: key('undone'), outcomes: key('outcomes') };
}

/**
 * The batch a job belongs to while it is queued; deleted when it ends applied
 * or already applied, or is cancelled. A dead-lettered job keeps it, so that a
 * replay runs under the same batch; a new enqueue of the stream replaces it.
 */
export function jobBatchKey(prefix: string, jobId: string): string {
  return `${prefix}:job-batch:${jobId}`;
}

/**
 * The batch whose call made the standing ban of a stream (keyed by the ban's
 * job id): set when a batch's ban is applied, taken over by the next ban
 * applied for the stream, cleared when a lift is applied. `batch undo` lifts
 * only the bans its batch still owns (undo-claim.lua).
 */
export function banOwnerKey(prefix: string, banJobId: string): string {
  return `${prefix}:ban-owner:${banJobId}`;
}

/** Held (briefly) by whoever moves a job left in a queue's failed set to the dead-letter queue. */
export function failedMoveLeaseKey(prefix: string, jobId: string): string {
  return `${prefix}:failed-move:${jobId}`;
}

/**
 * The domains an account bans in, the last blacklist figures read for them,
 * and the bans this product applied without ResumeTime (six months each).
 */
export function blacklistKeys(prefix: string): { domains: string; cache: string; longBans: string } {
  return { domains: `${prefix}:banned-domains`, cache: `${prefix}:blacklist-headroom`, longBans: `${prefix}:long-bans` };
}

/** An account's audit trail: a Redis Stream of acts and outcomes (ledger/audit.ts). */
export function auditKey(prefix: string): string {
  return `${prefix}:audit`;
}

/**
 * Where a subject's newest audit record is named (see audit.lua): a 48-bit
 * field of one of 4,096 bucket hashes, both from the subject's SHA-256. Two
 * subjects that share a field (about one chance in 25,000 among ten million
 * subjects) only share a chain, whose records history() tells apart by
 * subject.
 */
export function auditHead(prefix: string, subject: string): { key: string; field: string } {
  const digest = createHash('sha256').update(subject).digest('hex');
  return { key: `${prefix}:audit-heads:${digest.slice(0, 3)}`, field: digest.slice(3, 15) };
}

/** Where earlier versions indexed a subject's records (a sorted set each): read beside the chain until they age out (AUDIT_RETENTION_DAYS). */
export function legacyAuditSubjectKey(prefix: string, subject: string): string {
  return `${prefix}:audit-subject:${createHash('sha256').update(subject).digest('hex').slice(0, 32)}`;
}

/**
 * BullMQ's prefix for an account's webhook queues: endpoint <name>'s queue
 * (the queue name is the endpoint's) lives at <prefix>:webhook:<name>:*.
 */
export function webhookQueuePrefix(prefix: string): string {
  return `${prefix}:webhook`;
}

/** The consumer group on the account's audit trail that feeds one endpoint's queue (webhooks/feeder.ts). */
export function webhookGroup(endpoint: string): string {
  return `webhook:${endpoint}`;
}

/** A delivery's job id: one per endpoint and record, so a record read twice (after a crash) is queued once. */
export function webhookJobId(endpoint: string, recordId: string): string {
  return `${endpoint}.${recordId}`;
}

export function outcomeKey(prefix: string, jobId: string): string {
  return `${prefix}:outcome:${jobId}`;
}

/**
 * Deterministic job ids: the same stream (or monitor) of the same account is
 * the same job, so a ban already pending is not enqueued twice. BullMQ ids may
 * not contain ':'; stream coordinates are hashed to keep ids short and safe.
 */
export function jobId<O extends Operation>(operation: O, account: string, params: ParamsByOperation[O]): string {
  return jobIdOfSubject(operation, account, subjectOf(operation, params));
}

/** The job id of an operation about a subject (the audit trail derives it instead of storing it). */
export function jobIdOfSubject(operation: Operation, account: string, subject: Subject): string {
  const slug = OPERATION_INFO[operation].slug;
  if ('monitorId' in subject) return `${slug}.${account}.${subject.monitorId}`;
  return `${slug}.${account}.${createHash('sha256').update(subject.stream).digest('hex').slice(0, 32)}`;
}

/** The account a job id names (see jobId), or undefined for an id not made by jobId. */
export function accountOfJobId(id: string): string | undefined {
  const [slug, ...rest] = id.split('.');
  if (!(OPERATION_SLUGS as readonly string[]).includes(slug ?? '') || rest.length < 2) return undefined;
  // The last segment (a hash or a MonitorId) has no dot; an account name may.
  return rest.slice(0, -1).join('.');
}
