import { Gauge, type Registry } from 'prom-client';
import type { RedisClient } from '../redis.ts';
import type { Headroom } from '../blacklist/headroom.ts';
import type { AccountRuntime } from '../app/runtime.ts';
import { HOLD_REASONS } from '../catalog/error-codes.ts';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import type { Logger } from '../log.ts';
import type { OperationStatus } from '../ledger/status.ts';
import type { BucketSettings, BucketState } from '../ratelimit/token-bucket.ts';

export const QUEUE_STATES = ['waiting', 'delayed', 'active'] as const;

interface Snapshot {
  /** Per account, per operation. */
  status: Map<string, Map<Operation, OperationStatus>>;
  /** Per account: the last blacklist figures read, if any. */
  blacklist: Map<string, Headroom | undefined>;
  buckets: Map<string, Map<Operation, { state: BucketState; settings: BucketSettings }>>;
  /** Per account, per operation: when the oldest job still waiting for a worker was enqueued. */
  oldestWaiting: Map<string, Map<Operation, number | undefined>>;
}

/** When the oldest job still waiting (urgent or normal) was enqueued; undefined when none waits. */
async function oldestWaitingAt(runtime: AccountRuntime, operation: Operation): Promise<number | undefined> {
  const queue = runtime.queue(operation);
  // Oldest first: the urgent list's tail and, normal jobs sharing one priority, the prioritized set's head.
  const heads = await Promise.all([queue.getJobs(['wait'], 0, 0, true), queue.getJobs(['prioritized'], 0, 0, true)]);
  const times = heads.flat().flatMap((job) => (job ? [job.timestamp] : []));
  return times.length > 0 ? Math.min(...times) : undefined;
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
export function registerQueueGauges(registry: Registry, redis: RedisClient, runtimes: readonly AccountRuntime[], log: Logger): void {
  const read = async (): Promise<Snapshot | undefined> => {
    // BullMQ would wait for a reconnect rather than fail: answer at once instead.
    if (redis.status !== 'ready') return undefined;
    try {
      const perAccount = await Promise.all(
        runtimes.map(async (runtime) => {
          const [rows, states, headroom, oldest] = await Promise.all([
            runtime.status(),
            Promise.all(OPERATIONS.map((op) => runtime.bucket(op).state())),
            runtime.blacklist.cached(),
            Promise.all(OPERATIONS.map((op) => oldestWaitingAt(runtime, op))),
          ]);
          return { runtime, rows, states, headroom, oldest };
        }),
      );
      const status = new Map(perAccount.map(({ runtime, rows }) => [runtime.name, new Map(rows.map((row) => [row.operation, row]))]));
      const buckets = new Map(
        perAccount.map(({ runtime, states }) => [runtime.name, new Map(OPERATIONS.map((op, i) => [op, { state: states[i]!, settings: runtime.bucket(op).settings }]))]),
      );
      const oldestWaiting = new Map(perAccount.map(({ runtime, oldest }) => [runtime.name, new Map(OPERATIONS.map((op, i) => [op, oldest[i]]))]));
      return { status, buckets, oldestWaiting, blacklist: new Map(perAccount.map(({ runtime, headroom }) => [runtime.name, headroom])) };
    } catch (error) {
      log.warn({ err: error instanceof Error ? error.message : String(error) }, 'metrics: could not read queue state from Redis');
      return undefined;
    }
  };
  // The registry collects every gauge of one scrape at once: they share one read.
  let pending: Promise<Snapshot | undefined> | undefined;
  const snapshot = () => (pending ??= read().finally(() => (pending = undefined)));

  const registers = [registry];
  const each = (s: Snapshot, set: (account: string, operation: Operation) => void) => {
    for (const account of s.status.keys()) for (const operation of OPERATIONS) set(account, operation);
  };
  const perOperation = (name: string, help: string, value: (s: Snapshot, account: string, operation: Operation) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['account', 'operation'],
      registers,
      async collect() {
        this.reset();
        const s = await snapshot();
        if (s) each(s, (account, operation) => this.set({ account, operation }, value(s, account, operation)));
      },
    });
  const row = (s: Snapshot, account: string, operation: Operation) => s.status.get(account)!.get(operation)!;
  const bucket = (s: Snapshot, account: string, operation: Operation) => s.buckets.get(account)!.get(operation)!;

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
      const policy = s && [...s.status.values()].flatMap((rows) => [...rows.values()])[0]?.redisMaxmemoryPolicy;
      if (policy) this.set({ policy }, 1);
    },
  });
  new Gauge({
    name: 'livequeue_queue_jobs',
    help: 'Jobs in the operation queue by state (waiting includes prioritized)',
    labelNames: ['account', 'operation', 'state'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (s) each(s, (account, operation) => { for (const state of QUEUE_STATES) this.set({ account, operation, state }, row(s, account, operation)[state]); });
    },
  });
  perOperation('livequeue_dead_letter_jobs', 'Entries in the dead-letter queue', (s, a, op) => row(s, a, op).deadLettered);
  perOperation('livequeue_oldest_waiting_job_age_seconds', 'Age of the oldest job waiting for a worker (0 when none waits): grows while the backlog does not move', (s, a, op) => {
    const at = s.oldestWaiting.get(a)!.get(op);
    return at === undefined ? 0 : Math.max(0, (Date.now() - at) / 1000);
  });
  new Gauge({
    name: 'livequeue_operation_held',
    help: '1 while the operation is held, by reason: systemic (the service fails), credentials, account, blacklist (full; only bans that add to it wait), manual',
    labelNames: ['account', 'operation', 'reason'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (s) each(s, (account, operation) => {
        const held = row(s, account, operation).hold?.reason;
        for (const reason of HOLD_REASONS) this.set({ account, operation, reason }, held === reason ? 1 : 0);
      });
    },
  });
  const perAccount = (name: string, help: string, value: (h: Headroom) => number) =>
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
  perAccount('livequeue_blacklist_entries', 'Streams on the account\'s blacklist, as last read with DescribeLiveStreamsBlockList (cap 10,000)', (h) => h.entries);
  perAccount('livequeue_blacklist_headroom', 'Streams the account\'s blacklist has room for, as last read', (h) => h.headroom);
  perAccount('livequeue_blacklist_permanent_bans', 'Bans applied through livequeue without ResumeTime (six months each) that have not run out', (h) => h.permanentBans);
  perOperation('livequeue_bucket_rate', 'Current (adaptive) rate of the account bucket, calls per second', (s, a, op) => bucket(s, a, op).state.currentRate);
  perOperation('livequeue_bucket_configured_rate', 'Configured rate of the account bucket, calls per second, as the workers use it', (s, a, op) => bucket(s, a, op).state.configuredRate);
  perOperation('livequeue_bucket_tokens', 'Slots a worker could reserve right now (0 while the bucket is booked ahead or held back by the server)', (s, a, op) => {
    const b = bucket(s, a, op);
    return availableSlots(b.state, b.settings);
  });
  perOperation('livequeue_bucket_blocked_seconds', 'Time left of a pause the API asked for (Retry-After, TimeLeft)', (s, a, op) => bucket(s, a, op).state.blockedMs / 1000);
}
