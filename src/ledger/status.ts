import type { Queue } from 'bullmq';
import type { BlacklistHeadroom } from '../blacklist/headroom.ts';
import { DEFAULT_ACCOUNT } from '../account/rules.ts';
import type { HoldReason } from '../catalog/error-codes.ts';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import type { TokenBucket } from '../ratelimit/token-bucket.ts';
import type { RedisClient } from '../redis.ts';
import { readMaxmemoryPolicy } from '../redis-policy.ts';
import type { DeadLetterQueue } from './dead-letter.ts';
import type { Holds } from '../holds/holds.ts';
import type { HostFaults } from '../holds/host-faults.ts';
import { queueName } from '../queue/names.ts';
import type { Stats } from './stats.ts';

/** What a status read needs of an account (its runtime). */
export interface StatusSources {
  name: string;
  stats: Stats;
  deadLetters: DeadLetterQueue;
  holds: Holds;
  hostFaults: Pick<HostFaults, 'list'>;
  queue(operation: Operation): Queue;
  bucket(operation: Operation): TokenBucket;
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
  configuredRate: number;
  currentRate: number;
  callsLastMinute: number;
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
  /**
   * Redis's maxmemory-policy ("unknown" when Redis refuses CONFIG GET and INFO).
   * Anything but noeviction lets a full Redis delete queued jobs. The same on every row.
   */
  redisMaxmemoryPolicy: string;
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

/** One snapshot of every operation of an account: queue depth, outcomes, holds and the bucket's rate. Costs O(1) Redis commands. */
export async function readStatus(account: StatusSources): Promise<OperationStatus[]> {
  const { stats, deadLetters, holds } = account;
  const policy = readMaxmemoryPolicy(account.redis);
  const heldProcesses: HeldProcessStatus[] = (await account.hostFaults.list()).map((f) => ({
    process: f.process,
    host: f.host,
    pid: f.pid,
    code: f.code,
    since: new Date(f.since).toISOString(),
    lastSeen: new Date(f.seenAt).toISOString(),
  }));
  const redisMaxmemoryPolicy = await policy;
  return Promise.all(
    OPERATIONS.map(async (operation) => {
      const [counts, outcomes, bucketState, hold, blacklist, deadLettered, headroom] = await Promise.all([
        account.queue(operation).getJobCounts('wait', 'prioritized', 'delayed', 'active'),
        stats.read(operation),
        account.bucket(operation).state(),
        holds.current(operation),
        operation === 'ForbidLiveStream' ? holds.blacklistHold() : undefined,
        deadLetters.count(operation),
        operation === 'ForbidLiveStream' ? account.blacklist.cached() : undefined,
      ]);
      const resume = `livequeue ${account.name === DEFAULT_ACCOUNT ? '' : `--account ${account.name} `}resume ${queueName(operation)}`;
      return {
        account: account.name,
        operation,
        waiting: (counts.wait ?? 0) + (counts.prioritized ?? 0),
        delayed: counts.delayed ?? 0,
        active: counts.active ?? 0,
        applied: outcomes.applied,
        alreadyApplied: outcomes.alreadyApplied,
        retried: outcomes.retried,
        throttled: outcomes.throttled,
        deadLettered,
        configuredRate: bucketState.configuredRate,
        currentRate: Math.round(bucketState.currentRate * 100) / 100,
        callsLastMinute: outcomes.callsLastMinute,
        heldProcesses,
        redisMaxmemoryPolicy,
        ...(operation === 'ForbidLiveStream'
          ? { blacklist: headroom ? { cap: headroom.cap, entries: headroom.entries, headroom: headroom.headroom, permanentBans: headroom.permanentBans, checkedAt: headroom.checkedAt } : null }
          : {}),
        hold: hold
          ? {
              reason: hold.reason,
              since: new Date(hold.since).toISOString(),
              code: hold.code,
              message: hold.message,
              target: hold.target,
              calls: hold.count,
              nextProbeAt: hold.nextProbeAt === undefined ? null : new Date(hold.nextProbeAt).toISOString(),
              resume,
            }
          : blacklist
            ? {
                reason: 'blacklist' as const,
                since: new Date(blacklist.since).toISOString(),
                code: blacklist.code,
                message: `${blacklist.message}; bans that add to the blacklist wait, Oneshot=yes bans go on`,
                target: '',
                calls: 1,
                nextProbeAt: null,
                until: new Date(blacklist.until).toISOString(),
                resume,
              }
            : null,
      };
    }),
  );
}
