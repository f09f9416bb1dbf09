import { Gauge, type Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { HOLD_REASONS } from '../live/error-codes.ts';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import type { Logger } from '../log.ts';
import { bucketKey } from '../queue/names.ts';
import { readStatus, type OperationStatus } from '../queue/status.ts';
import { defaultBucketSettings, TokenBucket, type BucketSettings, type BucketState } from '../ratelimit/token-bucket.ts';

export const QUEUE_STATES = ['waiting', 'delayed', 'active'] as const;

interface Snapshot {
  status: Map<Operation, OperationStatus>;
  buckets: Map<Operation, { state: BucketState; settings: BucketSettings }>;
}

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
export function registerQueueGauges(registry: Registry, redis: Redis, config: Config, log: Logger): void {
  const buckets = OPERATIONS.map((operation) => {
    const settings = defaultBucketSettings(config.qps[operation], config.pacingMarginMs);
    return { operation, settings, bucket: new TokenBucket(redis, bucketKey(config.prefix, config.account, operation), settings) };
  });

  const read = async (): Promise<Snapshot | undefined> => {
    // BullMQ would wait for a reconnect rather than fail: answer at once instead.
    if (redis.status !== 'ready') return undefined;
    try {
      const [rows, states] = await Promise.all([readStatus(redis, config), Promise.all(buckets.map((b) => b.bucket.state()))]);
      return {
        status: new Map(rows.map((row) => [row.operation, row])),
        buckets: new Map(buckets.map((b, i) => [b.operation, { state: states[i]!, settings: b.settings }])),
      };
    } catch (error) {
      log.warn({ err: error instanceof Error ? error.message : String(error) }, 'metrics: could not read queue state from Redis');
      return undefined;
    }
  };
  // The registry collects every gauge of one scrape at once: they share one read.
  let pending: Promise<Snapshot | undefined> | undefined;
  const snapshot = () => (pending ??= read().finally(() => (pending = undefined)));

  const registers = [registry];
  const perOperation = (name: string, help: string, value: (s: Snapshot, operation: Operation) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['operation'],
      registers,
      async collect() {
        this.reset();
        const s = await snapshot();
        if (s) for (const operation of OPERATIONS) this.set({ operation }, value(s, operation));
      },
    });

  new Gauge({
    name: 'livequeue_redis_up',
    help: '1 when this scrape could read the queues and buckets from Redis, else 0',
    registers,
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'livequeue_queue_jobs',
    help: 'Jobs in the operation queue by state (waiting includes prioritized)',
    labelNames: ['operation', 'state'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (!s) return;
      for (const [operation, row] of s.status) for (const state of QUEUE_STATES) this.set({ operation, state }, row[state]);
    },
  });
  perOperation('livequeue_dead_letter_jobs', 'Entries in the dead-letter queue', (s, op) => s.status.get(op)!.deadLettered);
  new Gauge({
    name: 'livequeue_operation_held',
    help: '1 while the operation is held, by reason: systemic (the service fails), credentials, account, blacklist (full; only bans that add to it wait), manual',
    labelNames: ['operation', 'reason'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (!s) return;
      for (const operation of OPERATIONS) {
        const held = s.status.get(operation)!.hold?.reason;
        for (const reason of HOLD_REASONS) this.set({ operation, reason }, held === reason ? 1 : 0);
      }
    },
  });
  perOperation('livequeue_bucket_rate', 'Current (adaptive) rate of the account bucket, calls per second', (s, op) => s.buckets.get(op)!.state.currentRate);
  perOperation('livequeue_bucket_configured_rate', 'Configured rate of the account bucket, calls per second', (s, op) => s.buckets.get(op)!.state.configuredRate);
  perOperation('livequeue_bucket_tokens', 'Slots a worker could reserve right now (0 while the bucket is booked ahead or held back by the server)', (s, op) => {
    const b = s.buckets.get(op)!;
    return availableSlots(b.state, b.settings);
  });
  perOperation('livequeue_bucket_blocked_seconds', 'Time left of a pause the API asked for (Retry-After, TimeLeft)', (s, op) => s.buckets.get(op)!.state.blockedMs / 1000);
}
