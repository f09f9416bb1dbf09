import type { Headroom } from '../blacklist/headroom.ts';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import type { OperationStatus, WebhookStatus } from '../ledger/status.ts';
import type { Logger } from '../log.ts';
import type { BucketSettings, BucketState } from '../ratelimit/token-bucket.ts';
import type { RedisClient } from '../redis.ts';
import { webhookStatus } from '../webhooks/dead-deliveries.ts';
import type { ScrapedAccount } from './scraped-account.ts';

/** Everything the queue gauges report, read once per scrape. */
export interface Snapshot {
  /** Per account, per operation. */
  status: Map<string, Map<Operation, OperationStatus>>;
  /** Per account: the last blacklist figures read, if any. */
  blacklist: Map<string, Headroom | undefined>;
  buckets: Map<string, Map<Operation, { state: BucketState; settings: BucketSettings }>>;
  /** Per account, per operation: when the oldest job still waiting for a worker was enqueued. */
  oldestWaiting: Map<string, Map<Operation, number | undefined>>;
  /** Per account: each webhook endpoint's deliveries (none without LIVEQUEUE_WEBHOOKS_FILE). */
  webhooks: Map<string, WebhookStatus[]>;
}

/** One account's raw reads, indexed like OPERATIONS. */
interface AccountReading {
  account: ScrapedAccount;
  rows: OperationStatus[];
  states: BucketState[];
  headroom: Headroom | undefined;
  oldest: (number | undefined)[];
  webhooks: WebhookStatus[];
}

/** When the oldest job still waiting (urgent or normal) was enqueued; undefined when none waits. */
async function oldestWaitingAt(account: ScrapedAccount, operation: Operation): Promise<number | undefined> {
  const queue = account.queue(operation);
  // Oldest first: the urgent list's tail and, normal jobs sharing one priority, the prioritized set's head.
  const heads = await Promise.all([queue.getJobs(['wait'], 0, 0, true), queue.getJobs(['prioritized'], 0, 0, true)]);
  const times = heads.flat().flatMap((job) => (job ? [job.timestamp] : []));
  return times.length > 0 ? Math.min(...times) : undefined;
}

async function readAccount(account: ScrapedAccount): Promise<AccountReading> {
  const [rows, states, headroom, oldest, webhooks] = await Promise.all([
    account.status(),
    Promise.all(OPERATIONS.map((op) => account.bucket(op).state())),
    account.blacklist.cached(),
    Promise.all(OPERATIONS.map((op) => oldestWaitingAt(account, op))),
    webhookStatus(account, account.config.webhooks.endpoints),
  ]);
  return { account, rows, states, headroom, oldest, webhooks };
}

function snapshotOf(readings: readonly AccountReading[]): Snapshot {
  const byAccount = <V>(value: (reading: AccountReading) => V) => new Map(readings.map((reading) => [reading.account.name, value(reading)]));
  return {
    status: byAccount(({ rows }) => new Map(rows.map((row) => [row.operation, row]))),
    buckets: byAccount(({ account, states }) => new Map(OPERATIONS.map((op, i) => [op, { state: states[i]!, settings: account.bucket(op).settings }]))),
    oldestWaiting: byAccount(({ oldest }) => new Map(OPERATIONS.map((op, i) => [op, oldest[i]]))),
    blacklist: byAccount(({ headroom }) => headroom),
    webhooks: byAccount(({ webhooks }) => webhooks),
  };
}

/** The shared state of every account, or undefined when Redis cannot answer now. */
export async function readSnapshot(redis: RedisClient, accounts: readonly ScrapedAccount[], log: Logger): Promise<Snapshot | undefined> {
  // BullMQ would wait for a reconnect rather than fail: answer at once instead.
  if (redis.status !== 'ready') return undefined;
  try {
    return snapshotOf(await Promise.all(accounts.map(readAccount)));
  } catch (error) {
    log.warn({ err: error instanceof Error ? error.message : String(error) }, 'metrics: could not read queue state from Redis');
    return undefined;
  }
}

/**
 * `read`, shared by the calls made while one is in flight: the registry
 * collects every gauge of one scrape at once, and they should share one read.
 */
export function sharedWhileInFlight<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => (pending ??= read().finally(() => (pending = undefined)));
}
