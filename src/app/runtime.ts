import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis.ts';
import type { AccountConfig, Config } from '../config.ts';
import { accountPrefix, unknownAccountMessage } from '../account/rules.ts';
import { AlibabaLiveClient, profileCredential, type LiveApi } from '../live/client.ts';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import { Batches } from '../batches/batches.ts';
import { DeadLetterQueue } from '../ledger/dead-letter.ts';
import { Holds } from '../holds/holds.ts';
import { HostFaults } from '../holds/host-faults.ts';
import { blacklistKeys, bucketKey, describeBlockListBucketKey, rateOverrideKey } from '../queue/names.ts';
import { BatchLedger } from '../ledger/batch-ledger.ts';
import { Intake } from '../intake/enqueue.ts';
import { BlacklistHeadroom } from '../blacklist/headroom.ts';
import { Outcomes } from '../ledger/outcomes.ts';
import { AuditTrail } from '../ledger/audit.ts';
import { Producer } from '../queue/producer.ts';
import { Stats } from '../ledger/stats.ts';
import { readStatus, type OperationStatus } from '../ledger/status.ts';
import { defaultBucketSettings, TokenBucket } from '../ratelimit/token-bucket.ts';
import { LivequeueError } from '../errors.ts';

/** DescribeLiveStreamsBlockList has a quota of its own: 50 QPS per account. */
const DESCRIBE_BLOCK_LIST_QPS = 50;

/**
 * One Alibaba Cloud account in this process: it holds the account's parts
 * (queues, buckets, holds, counters, outcomes, dead-letter queue, batches,
 * blacklist headroom, the intake) and runs nothing. The faces and the worker
 * process take a runtime and build none of these themselves.
 */
export class AccountRuntime {
  readonly name: string;
  readonly prefix: string;
  readonly producer: Producer;
  readonly deadLetters: DeadLetterQueue;
  readonly outcomes: Outcomes;
  readonly audit: AuditTrail;
  readonly stats: Stats;
  readonly holds: Holds;
  readonly hostFaults: HostFaults;
  readonly batches: Batches;
  readonly blacklist: BlacklistHeadroom;
  readonly intake: Intake;
  private readonly buckets = new Map<Operation, TokenBucket>();

  constructor(
    /** Shared by every runtime of the process; owned by the caller. */
    readonly redis: RedisClient,
    readonly config: Config,
    readonly settings: AccountConfig,
  ) {
    this.name = settings.name;
    this.prefix = accountPrefix(config.prefix, settings.name);
    this.producer = new Producer(redis, this.prefix, config.retry);
    this.deadLetters = new DeadLetterQueue(redis, this.prefix, (operation) => this.queue(operation));
    this.outcomes = new Outcomes(redis, this.prefix, config.outcomeTtlSeconds);
    this.audit = new AuditTrail(redis, this.prefix, this.name, config.audit);
    this.stats = new Stats(redis, this.prefix);
    this.holds = new Holds(redis, this.prefix, this.name, config.holds, (operation) => this.queue(operation));
    this.hostFaults = new HostFaults(redis, this.prefix, this.name, config.holds.hostFaultStaleMs, config.holds.hostFaultGraceMs);
    const queues = { queue: (operation: Operation) => this.queue(operation), addLifts: (records: readonly { params: unknown }[], batch: string) => this.intake.add('ResumeLiveStream', records, batch) };
    this.batches = new Batches(redis, this.prefix, this.name, queues, this.outcomes, this.audit);
    this.blacklist = new BlacklistHeadroom(
      redis,
      blacklistKeys(this.prefix),
      this.name,
      settings.domains,
      new TokenBucket(redis, describeBlockListBucketKey(this.prefix, this.name), defaultBucketSettings(DESCRIBE_BLOCK_LIST_QPS, config.pacingMarginMs)),
    );
    this.intake = new Intake({
      account: this.name,
      producer: this.producer,
      ties: new BatchLedger(redis, this.prefix),
      leftovers: this.deadLetters,
      batches: this.batches,
      blacklist: this.blacklist,
      audit: this.audit,
    });
  }

  queue(operation: Operation): Queue {
    return this.producer.queue(operation);
  }

  /**
   * Where the account's queues report connection errors. The caller's own
   * connection reports outages; without a listener BullMQ would print each
   * one again, per queue.
   */
  onQueueError(listener: (error: Error) => void): void {
    for (const queue of [...OPERATIONS.map((op) => this.queue(op)), this.deadLetters.queue]) queue.on('error', listener);
  }

  /** The account's shared token bucket for one operation, at the account's configured rate or the operator's (`livequeue rate set`). */
  bucket(operation: Operation): TokenBucket {
    let bucket = this.buckets.get(operation);
    if (!bucket) {
      const settings = defaultBucketSettings(this.settings.qps[operation], this.config.pacingMarginMs);
      bucket = new TokenBucket(this.redis, bucketKey(this.prefix, this.name, operation), settings, rateOverrideKey(this.prefix, this.name, operation));
      this.buckets.set(operation, bucket);
    }
    return bucket;
  }

  status(): Promise<OperationStatus[]> {
    return readStatus(this);
  }

  /** A client for this account: its region, and its profile's credentials (or the default chain). */
  liveClient(): AlibabaLiveClient {
    return new AlibabaLiveClient({
      ...this.config.live,
      regionId: this.settings.region,
      credential: this.settings.profile ? profileCredential(this.settings.profile) : undefined,
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.producer.close(), this.deadLetters.close()]);
  }
}

/** A runtime for each named account (every account when none is named), sharing one connection. */
export function accountRuntimes(redis: RedisClient, config: Config, names?: readonly string[]): AccountRuntime[] {
  const wanted = names && names.length > 0 ? names : config.accounts.map((a) => a.name);
  return wanted.map((name) => {
    const settings = config.accounts.find((a) => a.name === name);
    if (!settings) throw new UnknownAccountError(name, config);
    return new AccountRuntime(redis, config, settings);
  });
}

/** The runtime of the account a one-account command acts on (config.account). */
export function selectedRuntime(redis: RedisClient, config: Config): AccountRuntime {
  return accountRuntimes(redis, config, [config.account])[0]!;
}

export class UnknownAccountError extends LivequeueError {
  constructor(readonly account: string, config: { accounts: readonly { name: string }[] }) {
    super('unknown-account', unknownAccountMessage(account, config.accounts));
  }
}
