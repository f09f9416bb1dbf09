import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis.ts';
import type { AccountConfig, Config } from '../config.ts';
import { accountPrefix, unknownAccountMessage } from './rules.ts';
import { AlibabaLiveClient, profileCredential, type LiveApi } from '../live/client.ts';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import type { Logger } from '../log.ts';
import { Batches } from '../queue/batches.ts';
import { DeadLetterQueue } from '../queue/dead-letter.ts';
import { Holds } from '../queue/holds.ts';
import { HostFaults } from '../queue/host-faults.ts';
import { blacklistKeys, bucketKey } from '../queue/names.ts';
import { BlacklistHeadroom } from './blacklist-headroom.ts';
import { Outcomes } from '../queue/outcomes.ts';
import { Producer } from '../queue/producer.ts';
import { Stats } from '../queue/stats.ts';
import { readStatus, type OperationStatus } from '../queue/status.ts';
import { defaultBucketSettings, TokenBucket } from '../ratelimit/token-bucket.ts';
import { LiveWorkers } from '../worker/worker.ts';
import { NO_OBSERVER, type WorkerObserver } from '../worker/observer.ts';
import type { OutageLog } from '../worker/outage-log.ts';
import { LivequeueError } from '../errors.ts';

/** DescribeLiveStreamsBlockList has a quota of its own: 50 QPS per account. */
const DESCRIBE_BLOCK_LIST_QPS = 50;

export interface StartWorkersOptions {
  /** The Live API client; by default one for this account's region and credentials. */
  live?: LiveApi;
  log: Logger;
  operations?: readonly Operation[];
  concurrency?: number;
  observer?: WorkerObserver;
  /** Called once when a blacklist hold begins. */
  onBlacklistFull?: () => void;
  outage?: OutageLog;
}

/**
 * One Alibaba Cloud account in this process: it owns the account's Redis key
 * names, per-operation queues, buckets, holds, counters, outcomes and
 * dead-letter queue, and hands out the producer, the status read and the
 * workers. Everything else (CLI, HTTP, worker, metrics) takes a runtime and
 * builds none of these itself.
 */
export class AccountRuntime {
  readonly name: string;
  readonly prefix: string;
  readonly producer: Producer;
  readonly deadLetters: DeadLetterQueue;
  readonly outcomes: Outcomes;
  readonly stats: Stats;
  readonly holds: Holds;
  readonly hostFaults: HostFaults;
  readonly batches: Batches;
  readonly blacklist: BlacklistHeadroom;
  private readonly buckets = new Map<Operation, TokenBucket>();

  constructor(
    /** Shared by every runtime of the process; owned by the caller. */
    readonly redis: RedisClient,
    readonly config: Config,
    readonly settings: AccountConfig,
  ) {
    this.name = settings.name;
    this.prefix = accountPrefix(config.prefix, settings.name);
    this.producer = new Producer(redis, { prefix: this.prefix, account: this.name, retry: config.retry });
    this.deadLetters = new DeadLetterQueue(redis, this.prefix, (operation) => this.queue(operation));
    this.outcomes = new Outcomes(redis, this.prefix, config.outcomeTtlSeconds);
    this.stats = new Stats(redis, this.prefix);
    this.holds = new Holds(redis, this.prefix, this.name, config.holds, (operation) => this.queue(operation));
    this.hostFaults = new HostFaults(redis, this.prefix, this.name, config.holds.hostFaultStaleMs, config.holds.hostFaultGraceMs);
    this.batches = new Batches(redis, this.prefix, this.name, this.producer, this.outcomes);
    this.blacklist = new BlacklistHeadroom(
      redis,
      blacklistKeys(this.prefix),
      this.name,
      settings.domains,
      new TokenBucket(redis, `${bucketKey(this.prefix, this.name, 'ForbidLiveStream')}:describe-block-list`, defaultBucketSettings(DESCRIBE_BLOCK_LIST_QPS, config.pacingMarginMs)),
    );
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

  /** The account's shared token bucket for one operation, at the account's configured rate. */
  bucket(operation: Operation): TokenBucket {
    let bucket = this.buckets.get(operation);
    if (!bucket) {
      bucket = new TokenBucket(this.redis, bucketKey(this.prefix, this.name, operation), defaultBucketSettings(this.settings.qps[operation], this.config.pacingMarginMs));
      this.buckets.set(operation, bucket);
    }
    return bucket;
  }

  /**
   * What else a job's end means for the account: a ban or a lift is counted
   * for the blacklist, and its batch learns of it (undo needs the bans it applied).
   */
  async jobFinished(operation: Operation, id: string, params: unknown, outcome: 'applied' | 'already-applied'): Promise<void> {
    await Promise.all([this.batches.finished(operation, id, params, outcome), outcome === 'applied' ? this.blacklist.noteApplied(operation, params) : undefined]);
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

  /**
   * Reads the blacklist's size now and every BLACKLIST_REFRESH_MS; one worker
   * process per account does it at a time (a lease in Redis). Returns a stop function.
   */
  startBlacklistRefresh(client: AlibabaLiveClient, log: Logger): () => void {
    const lease = `${this.prefix}:blacklist-refresh-lease`;
    const refresh = async () => {
      const mine = await this.redis.set(lease, '1', 'PX', Math.max(1000, this.config.blacklistRefreshMs - 1000), 'NX');
      if (mine !== 'OK') return;
      const headroom = await this.blacklist.refresh(client);
      log.info({ account: this.name, entries: headroom.entries, headroom: headroom.headroom }, 'blacklist size read');
      for (const { domain, code, forgotten } of headroom.skipped) log.warn({ account: this.name, domain, code, forgotten }, 'blacklist of a domain not read: the API refused the domain');
    };
    const run = () => void refresh().catch((error: Error) => log.warn({ account: this.name, err: error.message }, 'could not read the blacklist size'));
    run();
    const timer = setInterval(run, this.config.blacklistRefreshMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Workers draining this account's operations; call start() on them. */
  workers(options: StartWorkersOptions): LiveWorkers {
    return new LiveWorkers({
      runtime: this,
      live: options.live ?? this.liveClient(),
      log: options.log.child({ account: this.name }),
      operations: options.operations ?? OPERATIONS,
      concurrency: options.concurrency ?? this.config.concurrency,
      observer: options.observer ?? NO_OBSERVER,
      onBlacklistFull: options.onBlacklistFull,
      outage: options.outage,
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
