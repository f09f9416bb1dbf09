import type { Queue } from 'bullmq';
import type { BlacklistHeadroom, Headroom } from '../blacklist/headroom.ts';
import { DEFAULT_ACCOUNT } from '../account/rules.ts';
import type { HoldReason } from '../catalog/error-codes.ts';
import { OPERATION_INFO, OPERATIONS, type Operation } from '../catalog/operations.ts';
import type { BucketState, TokenBucket } from '../ratelimit/token-bucket.ts';
import type { RateOverride } from '../ratelimit/rate-override.ts';
import type { RedisClient } from '../redis.ts';
import { readMaxmemoryPolicy } from '../redis-policy.ts';
import type { DeadLetterQueue } from './dead-letter.ts';
import type { BlacklistHold, Hold, Holds } from '../holds/holds.ts';
import type { HostFaults } from '../holds/host-faults.ts';
import { queueName } from '../queue/names.ts';
import type { Counts, Stats } from './stats.ts';

/**
 * What a status read needs of an account: only the reads it makes. Declared
 * here so the ledger does not depend on app/; the account runtime satisfies it.
 */
export interface StatusSources {
  name: string;
  stats: Pick<Stats, 'read'>;
  deadLetters: Pick<DeadLetterQueue, 'count'>;
  holds: Pick<Holds, 'current' | 'blacklistHold'>;
  hostFaults: Pick<HostFaults, 'list'>;
  queue(operation: Operation): Pick<Queue, 'getJobCounts' | 'getJobs'>;
  bucket(operation: Operation): Pick<TokenBucket, 'state'>;
  blacklist: Pick<BlacklistHeadroom, 'cached'>;
  /** The account's Redis, to read its maxmemory-policy; without it the policy is "unknown". */
  redis?: RedisClient;
}

export interface OperationStatus {
  account: string;
  operation: Operation;
  waiting: number;
  delayed: number;
  active: number;
  applied: number;
  alreadyApplied: number;
  retried: number;
  throttled: number;
  /** Entries now in the dead-letter queue. */
  deadLettered: number;
  /** The configuration's rate (as the workers publish it), also while an override is in place. */
  configuredRate: number;
  /** The bucket's adaptive rate; never above the override's rate while there is one. */
  currentRate: number;
  /** An operator's rate in place of the configured one (`livequeue rate set`); `until` is an ISO time. */
  rateOverride?: { rate: number; until?: string; actor: string; reason?: string };
  callsLastMinute: number;
  /**
   * Seconds since the oldest job waiting for a worker (urgent or normal) was
   * enqueued, 0 when none waits: it grows while a backlog does not move.
   * Always set by readStatus; optional so row schemas written before it stay valid.
   */
  oldestWaitingAgeSeconds?: number;
  /** Why the operation (or part of it) is held, or null when it runs freely. */
  hold: HoldStatus | null;
  /**
   * Worker processes that hold themselves for this account because their own
   * credentials, signature or clock fail (the account's other processes go on).
   * The same list on every operation row of the account.
   */
  heldProcesses: HeldProcessStatus[];
  /** For bans: the blacklist's size as last read (DescribeLiveStreamsBlockList), or null if never read. */
  blacklist?: { cap: number; entries: number; headroom: number; permanentBans: number; checkedAt: string } | null;
  /** The account's webhook endpoints (LIVEQUEUE_WEBHOOKS_FILE), as `status` reads them (webhooks/); the same list on every row of the account. */
  webhooks?: WebhookStatus[];
  /**
   * Redis's maxmemory-policy ("unknown" when Redis refuses CONFIG GET and INFO).
   * Anything but noeviction lets a full Redis delete queued jobs. The same on every row.
   */
  redisMaxmemoryPolicy: string;
}

/** One webhook endpoint's deliveries: `failed` are those that used every attempt (replayable), the rest still go. */
export interface WebhookStatus {
  endpoint: string;
  failed: number;
  waiting: number;
  delayed: number;
  active: number;
}

export interface HoldStatus {
  reason: HoldReason;
  /** ISO time the hold began. */
  since: string;
  /** The last code that met the hold, and its message. */
  code: string;
  message: string;
  /** An example of what failed when the hold tripped: domain/app of a ban or lift, MonitorId of a stop. */
  target: string;
  /** Calls that got a failure since the hold began. */
  calls: number;
  /** ISO time of the next probe call; null when nothing probes (manual) or the hold simply expires (blacklist). */
  nextProbeAt: string | null;
  /** For a blacklist hold: ISO time its bans are tried again. */
  until?: string;
  /** What lifts it. */
  resume: string;
}

export interface HeldProcessStatus {
  /** host:pid:tag, as the process's log lines name it. */
  process: string;
  host: string;
  pid: number;
  code: string;
  /** ISO time the process began to hold itself. */
  since: string;
  /** ISO time it last reported the fault (every probe). */
  lastSeen: string;
}

/** What one status row is built from: the operation's own reads, and the account-wide ones. */
interface OperationReads {
  counts: Awaited<ReturnType<Queue['getJobCounts']>>;
  outcomes: Counts;
  bucketState: BucketState;
  hold: Hold | undefined;
  /** Only read for ForbidLiveStream, the one operation the blacklist holds. */
  blacklistHold: BlacklistHold | undefined;
  deadLettered: number;
  /** Only read for ForbidLiveStream. */
  headroom: Headroom | undefined;
  /** When the oldest waiting job was enqueued (ms), undefined when none waits. */
  oldestWaitingAt: number | undefined;
}

interface AccountReads {
  heldProcesses: HeldProcessStatus[];
  redisMaxmemoryPolicy: string;
}

/** One snapshot of every operation of an account: queue depth, outcomes, holds and the bucket's rate. Costs O(1) Redis commands. */
export async function readStatus(account: StatusSources): Promise<OperationStatus[]> {
  const policy = readMaxmemoryPolicy(account.redis);
  const heldProcesses = await readHeldProcesses(account);
  const shared: AccountReads = { heldProcesses, redisMaxmemoryPolicy: await policy };
  return Promise.all(OPERATIONS.map(async (operation) => operationStatus(account.name, operation, await readOperation(account, operation), shared)));
}

async function readHeldProcesses(account: StatusSources): Promise<HeldProcessStatus[]> {
  return (await account.hostFaults.list()).map((f) => ({
    process: f.process,
    host: f.host,
    pid: f.pid,
    code: f.code,
    since: new Date(f.since).toISOString(),
    lastSeen: new Date(f.seenAt).toISOString(),
  }));
}

async function readOperation(account: StatusSources, operation: Operation): Promise<OperationReads> {
  const forbid = OPERATION_INFO[operation].addsToBlacklist;
  const [counts, outcomes, bucketState, hold, blacklistHold, deadLettered, headroom, oldestWaitingAt] = await Promise.all([
    account.queue(operation).getJobCounts('wait', 'prioritized', 'delayed', 'active'),
    account.stats.read(operation),
    account.bucket(operation).state(),
    account.holds.current(operation),
    forbid ? account.holds.blacklistHold() : undefined,
    account.deadLetters.count(operation),
    forbid ? account.blacklist.cached() : undefined,
    oldestWaiting(account.queue(operation)),
  ]);
  return { counts, outcomes, bucketState, hold, blacklistHold, deadLettered, headroom, oldestWaitingAt };
}

/** Oldest first: the urgent list's tail and, normal jobs sharing one priority, the prioritized set's head (as the metric reads it). */
async function oldestWaiting(queue: Pick<Queue, 'getJobs'>): Promise<number | undefined> {
  const heads = await Promise.all([queue.getJobs(['wait'], 0, 0, true), queue.getJobs(['prioritized'], 0, 0, true)]);
  const times = heads.flat().flatMap((job) => (job ? [job.timestamp] : []));
  return times.length > 0 ? Math.min(...times) : undefined;
}

function operationStatus(account: string, operation: Operation, reads: OperationReads, shared: AccountReads): OperationStatus {
  const { counts, outcomes, bucketState } = reads;
  return {
    account,
    operation,
    waiting: (counts.wait ?? 0) + (counts.prioritized ?? 0),
    delayed: counts.delayed ?? 0,
    active: counts.active ?? 0,
    applied: outcomes.applied,
    alreadyApplied: outcomes.alreadyApplied,
    retried: outcomes.retried,
    throttled: outcomes.throttled,
    deadLettered: reads.deadLettered,
    configuredRate: bucketState.configuredRate,
    currentRate: Math.round(bucketState.currentRate * 100) / 100,
    ...(bucketState.override ? { rateOverride: rateOverrideStatus(bucketState.override) } : {}),
    callsLastMinute: outcomes.callsLastMinute,
    oldestWaitingAgeSeconds: reads.oldestWaitingAt === undefined ? 0 : Math.max(0, Math.round((Date.now() - reads.oldestWaitingAt) / 100) / 10),
    heldProcesses: shared.heldProcesses,
    redisMaxmemoryPolicy: shared.redisMaxmemoryPolicy,
    // Only the rows of operations that add to the blacklist carry it, even when it was never read (null).
    ...(OPERATION_INFO[operation].addsToBlacklist ? { blacklist: blacklistStatus(reads.headroom) } : {}),
    hold: holdStatus(reads.hold, reads.blacklistHold, resumeCommand(account, operation)),
  };
}

function rateOverrideStatus({ rate, until, actor, reason }: RateOverride): NonNullable<OperationStatus['rateOverride']> {
  return { rate, ...(until !== undefined ? { until: new Date(until).toISOString() } : {}), actor, ...(reason !== undefined ? { reason } : {}) };
}

function blacklistStatus(headroom: Headroom | undefined): OperationStatus['blacklist'] {
  return headroom ? { cap: headroom.cap, entries: headroom.entries, headroom: headroom.headroom, permanentBans: headroom.permanentBans, checkedAt: headroom.checkedAt } : null;
}

/** The command that lifts a hold; --account only when it is not the default one. */
function resumeCommand(account: string, operation: Operation): string {
  return `livequeue ${account === DEFAULT_ACCOUNT ? '' : `--account ${account} `}resume ${queueName(operation)}`;
}

/** The operation's own hold comes first; the blacklist hold only shows when there is none. */
function holdStatus(hold: Hold | undefined, blacklist: BlacklistHold | undefined, resume: string): HoldStatus | null {
  if (hold) {
    return {
      reason: hold.reason,
      since: new Date(hold.since).toISOString(),
      code: hold.code,
      message: hold.message,
      target: hold.target,
      calls: hold.count,
      nextProbeAt: hold.nextProbeAt === undefined ? null : new Date(hold.nextProbeAt).toISOString(),
      resume,
    };
  }
  if (blacklist) {
    return {
      reason: 'blacklist',
      since: new Date(blacklist.since).toISOString(),
      code: blacklist.code,
      message: `${blacklist.message}; bans that add to the blacklist wait, Oneshot=yes bans go on`,
      target: '',
      calls: 1,
      nextProbeAt: null,
      until: new Date(blacklist.until).toISOString(),
      resume,
    };
  }
  return null;
}
