import { defineScripts } from '../redis-scripts.ts';
import type { RedisClient } from '../redis.ts';
import { deleteRateOverride, readRateOverride, writeRateOverride, type RateOverride } from './rate-override.ts';


/** How one bucket paces and adapts; see bucket.lua for the algorithm. */
export interface BucketSettings {
  /** Calls per second the account may make for this operation. */
  configuredRate: number;
  /** Extra ms per second of spacing, absorbing jitter between our send and the server's count. */
  marginMs: number;
  /** How far ahead a process may reserve slots. */
  horizonMs: number;
  /** Multiplier applied to the rate on a throttled answer. */
  decreaseFactor: number;
  /** Floor of the adaptive rate, as a fraction of the configured rate. */
  minRateFraction: number;
  /** Fraction of the configured rate regained per second after a decrease. */
  recoveryPerSecond: number;
  /** One decrease per this many ms: a burst of throttles is one signal. */
  quietMs: number;
  /**
   * A throttle with fewer than two others this many ms before it is taken
   * for jitter: the bucket skips one slot and keeps its rate. The third
   * within this window means someone else spends the quota, and the rate
   * decreases.
   */
  isolatedMs: number;
}

export function defaultBucketSettings(configuredRate: number, marginMs: number): BucketSettings {
  const intervalMs = (1000 + marginMs) / configuredRate;
  return {
    configuredRate,
    marginMs,
    // Two slots ahead keeps a process busy across a Redis round trip at any rate.
    horizonMs: Math.max(2 * intervalMs, 20),
    decreaseFactor: 0.7,
    minRateFraction: 0.2,
    recoveryPerSecond: 0.05,
    quietMs: 1000,
    isolatedMs: 5_000,
  };
}

export interface Reservation {
  /** Slots granted; 0 when the horizon is full. */
  granted: number;
  /** With granted > 0: ms until the first slot. With 0: ms until a slot can be reserved. */
  waitMs: number;
  /** Spacing of consecutive slots. */
  intervalMs: number;
  /** Current (adaptive) rate in calls per second. */
  rate: number;
  /**
   * With granted > 0: when the first slot is due, on this process's
   * `performance.now()` clock, converted from Redis's clock (see RedisClock).
   */
  firstSlotAt: number;
}

export interface BucketState {
  /** The rate the workers drawing from this bucket are configured with (this process's own while no worker has drawn lately). */
  configuredRate: number;
  /** True when `configuredRate` was published by a worker rather than taken from this process's configuration. */
  publishedByWorkers: boolean;
  currentRate: number;
  /** Ms until the next free slot (0 when idle). */
  backlogMs: number;
  /** Ms left of a server-requested pause. */
  blockedMs: number;
  /** An operator's rate in place of the configured one (`livequeue rate set`); `currentRate` never exceeds it. */
  override?: RateOverride;
}

const IDLE_TTL_MS = 60_000;

/**
 * One (account, operation) bucket in Redis. Every worker process on every
 * machine that uses the same key shares it; all decisions are made atomically
 * inside one Lua script, on Redis's clock.
 */
export class TokenBucket {
  private readonly clock = new RedisClock();

  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    readonly settings: BucketSettings,
    /** Where an operator's rate for this bucket is kept (rateOverrideKey); none: the bucket only ever uses its configured rate. */
    readonly overrideKey?: string,
  ) {
    defineScripts(redis);
  }

  async reserve(wanted: number): Promise<Reservation> {
    const sentAt = performance.now();
    const [granted, waitMs, intervalMs, rate, redisNow] = (await this.run('reserve', wanted)) as [number, string, string, string, string];
    const receivedAt = performance.now();
    this.clock.sample(Number(redisNow), sentAt, receivedAt);
    return {
      granted: Number(granted),
      waitMs: Number(waitMs),
      intervalMs: Number(intervalMs),
      rate: Number(rate),
      firstSlotAt: this.clock.toLocal(Number(redisNow) + Number(waitMs)),
    };
  }

  /** Tells the bucket the API answered Throttling; returns the new rate. */
  async onThrottled(retryAfterMs = 0): Promise<number> {
    return Number(await this.run('throttled', Math.max(0, Math.round(retryAfterMs))));
  }

  async state(): Promise<BucketState> {
    const [peek, override] = await Promise.all([this.run('peek', 0), this.override()]);
    const [rate, backlogMs, blockedMs, configured, published] = peek as [string, string, string, string, number];
    return {
      configuredRate: Number(configured), publishedByWorkers: Number(published) === 1, currentRate: Number(rate), backlogMs: Number(backlogMs), blockedMs: Number(blockedMs),
      ...(override ? { override } : {}),
    };
  }

  /** The operator's rate in place, if any. */
  override(): Promise<RateOverride | undefined> {
    return this.overrideKey === undefined ? Promise.resolve(undefined) : readRateOverride(this.redis, this.overrideKey);
  }

  /** Every worker paces at `rate` from its next reservation on (bucket.lua reads it on each call); `forMs` ends it by itself. */
  setOverride(override: Omit<RateOverride, 'setAt' | 'until'>, forMs?: number): Promise<RateOverride> {
    return writeRateOverride(this.redis, this.requireOverrideKey(), override, forMs);
  }

  /** Back to the configured rate; returns the override that was in place. */
  resetOverride(): Promise<RateOverride | undefined> {
    return deleteRateOverride(this.redis, this.requireOverrideKey());
  }

  private requireOverrideKey(): string {
    if (this.overrideKey === undefined) throw new Error(`bucket ${this.key} takes no rate override`);
    return this.overrideKey;
  }

  private run(command: string, arg: number): Promise<unknown> {
    const s = this.settings;
    return this.redis.livequeueBucket(
      // Without an override key the script is given the bucket's own key twice, and reads no override.
      this.key, this.overrideKey ?? this.key, command, s.configuredRate, s.marginMs, s.horizonMs, arg,
      s.decreaseFactor, s.minRateFraction, s.recoveryPerSecond, s.quietMs, IDLE_TTL_MS, s.isolatedMs,
    );
  }
}

/**
 * Maps Redis's clock (on which every slot is decided) to this process's
 * monotonic clock. A slot's local time must not depend on when we got around
 * to reading the reply: a reply handled late by a busy event loop would shift
 * all its slots late and squeeze them against other processes' slots. The
 * offset comes from the round trip with the least uncertainty (the shortest),
 * renewed now and then so drift cannot build up.
 */
export class RedisClock {
  private offset = 0;
  private uncertainty = Number.POSITIVE_INFINITY;
  private sampledAt = 0;

  sample(redisNow: number, sentAt: number, receivedAt: number): void {
    const halfRoundTrip = (receivedAt - sentAt) / 2;
    const stale = receivedAt - this.sampledAt > 10_000;
    if (halfRoundTrip <= this.uncertainty || stale) {
      this.offset = redisNow - (sentAt + halfRoundTrip);
      this.uncertainty = halfRoundTrip;
      this.sampledAt = receivedAt;
    }
  }

  /** A Redis time (epoch ms) as a local performance.now() time. */
  toLocal(redisTime: number): number {
    return redisTime - this.offset;
  }
}
