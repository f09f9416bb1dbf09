import { defineScripts } from '../redis-scripts.ts';
import type { RedisClient } from '../redis.ts';
import type { Operation } from '../catalog/operations.ts';
import { callsKey, callsPerSecondKey, statsKey } from '../queue/names.ts';

/**
 * Outcome counters per operation, kept in Redis so every worker adds to the
 * same numbers and `status` can read them after jobs have left the queue.
 * Calls are also counted in 10-second buckets for "calls in the last minute".
 */
export const COUNTERS = ['applied', 'alreadyApplied', 'deadLettered', 'retried', 'throttled'] as const;
export type Counter = (typeof COUNTERS)[number];
export type Counts = Record<Counter, number> & { callsLastMinute: number };

const BUCKET_MS = 10_000;
const BUCKETS_PER_MINUTE = 6;
/** Seconds of per-second call counts kept (stats.lua's WINDOW). */
export const PER_SECOND_WINDOW = 900;

/** Calls per second, oldest first: [epoch second, calls] for every second of the window, 0 when none. */
export type CallSeries = [second: number, calls: number][];

export class Stats {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {
    defineScripts(redis);
  }

  /**
   * Counts one outcome and, when the API was called, the call: in the second
   * it was sent (`sentAt`, performance.now() then), however late its end is
   * recorded.
   */
  async record(operation: Operation, counter: Counter, call = true, sentAt?: number): Promise<void> {
    const bucket = callsKey(this.prefix, operation, Math.floor(Date.now() / BUCKET_MS));
    const sentAgoMs = sentAt === undefined ? 0 : Math.max(0, Math.round(performance.now() - sentAt));
    await this.redis.livequeueStats(statsKey(this.prefix, operation), bucket, counter, call ? '1' : '0', BUCKET_MS * (BUCKETS_PER_MINUTE + 1), sentAgoMs);
  }

  async read(operation: Operation): Promise<Counts> {
    const current = Math.floor(Date.now() / BUCKET_MS);
    const callKeys = Array.from({ length: BUCKETS_PER_MINUTE }, (_, i) => callsKey(this.prefix, operation, current - i));
    const [raw, calls] = await Promise.all([this.redis.hgetall(statsKey(this.prefix, operation)), this.redis.mget(...callKeys)]);
    const counts = Object.fromEntries(COUNTERS.map((c) => [c, Number(raw[c] ?? 0)])) as Record<Counter, number>;
    return { ...counts, callsLastMinute: calls.reduce((sum, v) => sum + Number(v ?? 0), 0) };
  }

  /**
   * The operation's calls in each of the last `seconds` seconds (at most the
   * window), up to the current one, by Redis's clock as stats.lua counts them.
   */
  async perSecond(operation: Operation, seconds = PER_SECOND_WINDOW): Promise<CallSeries> {
    const span = Math.min(Math.max(1, Math.floor(seconds)), PER_SECOND_WINDOW);
    const [[now], raw] = await Promise.all([this.redis.time(), this.redis.hgetall(callsPerSecondKey(this.prefix, operation))]);
    const last = Number(now);
    return Array.from({ length: span }, (_, i): [number, number] => {
      const second = last - span + 1 + i;
      return [second, Number(raw[second] ?? 0)];
    });
  }
}
