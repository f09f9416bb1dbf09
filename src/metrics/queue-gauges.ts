import { Gauge, type Registry } from 'prom-client';
import type { RedisClient } from '../redis.ts';
import type { Headroom } from '../blacklist/headroom.ts';
import { HOLD_REASONS } from '../catalog/error-codes.ts';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import type { Logger } from '../log.ts';
import type { BucketSettings, BucketState } from '../ratelimit/token-bucket.ts';
import { readSnapshot, sharedWhileInFlight, type Snapshot } from './queue-snapshot.ts';
import type { ScrapedAccount } from './scraped-account.ts';

export const QUEUE_STATES = ['waiting', 'delayed', 'active'] as const;

/** Where a gauge registers, and the scrape's shared read it reports from. */
interface GaugeScope {
  registers: Registry[];
  snapshot: () => Promise<Snapshot | undefined>;
}

type PerOperationValue = (s: Snapshot, account: string, operation: Operation) => number;

/**
 * Slots a worker could reserve right now: the reserve branch of bucket.lua,
 * read-only. 0 while the bucket is booked up to its horizon or the server
 * asked us to hold back.
 */
export function availableSlots(state: BucketState, settings: BucketSettings): number {
  const intervalMs = (1000 + settings.marginMs) / state.currentRate;
  const waitMs = Math.max(state.backlogMs, state.blockedMs);
  return waitMs > settings.horizonMs ? 0 : Math.floor((settings.horizonMs - waitMs) / intervalMs) + 1;
}

/**
 * Gauges of the shared state in Redis (queue depth, dead-letter queue,
 * buckets), read at scrape time. Every instance reports the same values, so
 * aggregate them with max(), not sum(). `redis` should fail fast (a producer
 * connection): a scrape while Redis is down answers livequeue_redis_up 0
 * instead of hanging.
 */
export function registerQueueGauges(registry: Registry, redis: RedisClient, accounts: readonly ScrapedAccount[], log: Logger): void {
  const scope: GaugeScope = { registers: [registry], snapshot: sharedWhileInFlight(() => readSnapshot(redis, accounts, log)) };
  // In this order on /metrics.
  registerRedisGauges(scope);
  registerQueueDepthGauges(scope);
  registerHoldGauge(scope);
  registerBlacklistGauges(scope);
  registerBucketGauges(scope);
  registerWebhookGauge(scope);
}

function forEachOperation(s: Snapshot, set: (account: string, operation: Operation) => void): void {
  for (const account of s.status.keys()) for (const operation of OPERATIONS) set(account, operation);
}

const statusRow = (s: Snapshot, account: string, operation: Operation) => s.status.get(account)!.get(operation)!;
const bucketOf = (s: Snapshot, account: string, operation: Operation) => s.buckets.get(account)!.get(operation)!;

/** A gauge with one value per account and operation. */
function perOperationGauge({ registers, snapshot }: GaugeScope, name: string, help: string, value: PerOperationValue): void {
  new Gauge({
    name,
    help,
    labelNames: ['account', 'operation'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (s) forEachOperation(s, (account, operation) => this.set({ account, operation }, value(s, account, operation)));
    },
  });
}

/** A gauge with one value per account whose blacklist has been read. */
function perAccountBlacklistGauge({ registers, snapshot }: GaugeScope, name: string, help: string, value: (h: Headroom) => number): void {
  new Gauge({
    name,
    help,
    labelNames: ['account'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (s) for (const [account, headroom] of s.blacklist) if (headroom) this.set({ account }, value(headroom));
    },
  });
}

function registerRedisGauges({ registers, snapshot }: GaugeScope): void {
  new Gauge({
    name: 'livequeue_redis_up',
    help: '1 when this scrape could read the queues and buckets from Redis, else 0',
    registers,
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'livequeue_redis_maxmemory_policy',
    help: 'Redis\'s maxmemory-policy, as 1 for that policy ("unknown" when Redis refuses CONFIG GET and INFO). BullMQ requires noeviction: any other policy lets a full Redis delete queued jobs',
    labelNames: ['policy'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      // Every status row carries the same policy: the first one will do.
      const policy = s && [...s.status.values()].flatMap((rows) => [...rows.values()])[0]?.redisMaxmemoryPolicy;
      if (policy) this.set({ policy }, 1);
    },
  });
}

function registerQueueDepthGauges(scope: GaugeScope): void {
  const { registers, snapshot } = scope;
  new Gauge({
    name: 'livequeue_queue_jobs',
    help: 'Jobs in the operation queue by state (waiting includes prioritized)',
    labelNames: ['account', 'operation', 'state'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (s) forEachOperation(s, (account, operation) => { for (const state of QUEUE_STATES) this.set({ account, operation, state }, statusRow(s, account, operation)[state]); });
    },
  });
  perOperationGauge(scope, 'livequeue_dead_letter_jobs', 'Entries in the dead-letter queue', (s, a, op) => statusRow(s, a, op).deadLettered);
  perOperationGauge(scope, 'livequeue_oldest_waiting_job_age_seconds', 'Age of the oldest job waiting for a worker (0 when none waits): grows while the backlog does not move', (s, a, op) => {
    const at = s.oldestWaiting.get(a)!.get(op);
    return at === undefined ? 0 : Math.max(0, (Date.now() - at) / 1000);
  });
}

function registerHoldGauge({ registers, snapshot }: GaugeScope): void {
  new Gauge({
    name: 'livequeue_operation_held',
    help: '1 while the operation is held, by reason: systemic (the service fails), credentials, account, blacklist (full; only bans that add to it wait), manual',
    labelNames: ['account', 'operation', 'reason'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (s) forEachOperation(s, (account, operation) => {
        const held = statusRow(s, account, operation).hold?.reason;
        for (const reason of HOLD_REASONS) this.set({ account, operation, reason }, held === reason ? 1 : 0);
      });
    },
  });
}

function registerBlacklistGauges(scope: GaugeScope): void {
  perAccountBlacklistGauge(scope, 'livequeue_blacklist_entries', 'Streams on the account\'s blacklist, as last read with DescribeLiveStreamsBlockList (cap 10,000)', (h) => h.entries);
  perAccountBlacklistGauge(scope, 'livequeue_blacklist_headroom', 'Streams the account\'s blacklist has room for, as last read', (h) => h.headroom);
  perAccountBlacklistGauge(scope, 'livequeue_blacklist_permanent_bans', 'Bans applied through livequeue without ResumeTime (six months each) that have not run out', (h) => h.permanentBans);
}

function registerBucketGauges(scope: GaugeScope): void {
  perOperationGauge(scope, 'livequeue_bucket_rate', 'Current (adaptive) rate of the account bucket, calls per second', (s, a, op) => bucketOf(s, a, op).state.currentRate);
  perOperationGauge(scope, 'livequeue_bucket_configured_rate', 'Configured rate of the account bucket, calls per second, as the workers use it', (s, a, op) => bucketOf(s, a, op).state.configuredRate);
  perOperationGauge(scope, 'livequeue_bucket_rate_override', 'An operator\'s rate in place of the configured one (livequeue rate set), calls per second; 0 when none', (s, a, op) => bucketOf(s, a, op).state.override?.rate ?? 0);
  perOperationGauge(scope, 'livequeue_bucket_tokens', 'Slots a worker could reserve right now (0 while the bucket is booked ahead or held back by the server)', (s, a, op) => {
    const b = bucketOf(s, a, op);
    return availableSlots(b.state, b.settings);
  });
  perOperationGauge(scope, 'livequeue_bucket_blocked_seconds', 'Time left of a pause the API asked for (Retry-After, TimeLeft)', (s, a, op) => bucketOf(s, a, op).state.blockedMs / 1000);
}

function registerWebhookGauge({ registers, snapshot }: GaugeScope): void {
  new Gauge({
    name: 'livequeue_webhook_failed_deliveries',
    help: 'Webhook deliveries that used every attempt and stay in the endpoint\'s queue as failed (`livequeue webhooks replay <webhook>` sends them again)',
    labelNames: ['account', 'webhook'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (s) for (const [account, endpoints] of s.webhooks) for (const { endpoint, failed } of endpoints) this.set({ account, webhook: endpoint }, failed);
    },
  });
}
