import { z } from 'zod';
import type { RedisClient } from '../redis.ts';

/** An operator's rate for one (account, operation), in place of the configured one until reset or `until`. */
export interface RateOverride {
  /** Calls per second every worker paces this operation at. */
  rate: number;
  /** Epoch ms it ends by itself (`--for`); none: until `livequeue rate reset`. */
  until?: number;
  actor: string;
  reason?: string;
  ticket?: string;
  /** Epoch ms it was set. */
  setAt: number;
}

/** The hash as stored; anything else in it (a hand edit) reads as no override rather than a crash. */
const storedSchema = z.object({
  rate: z.coerce.number().positive(),
  until: z.coerce.number().int().optional(),
  actor: z.string(),
  reason: z.string().optional(),
  ticket: z.string().optional(),
  setAt: z.coerce.number().int(),
});

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const DURATION_RULE = 'a whole number with a unit: ms, s, m, h or d (90s, 30m, 2h)';

/** `2h` -> 7200000; undefined for anything that is not a positive duration (the face names its flag). */
export function parseDurationMs(value: string): number | undefined {
  const match = DURATION.exec(value.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : 0;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

/**
 * Why a rate cannot be set, or undefined when it can: it must be above 0, and
 * not above the configured one (the quota the account was set up with) unless
 * the operator says so. `names` are the face's words for the value and the flag.
 */
export function rateOverrideProblem(rate: number, configured: number, allowAbove: boolean, names: { rate: string; allowAbove: string; configured: string }): string | undefined {
  if (!Number.isFinite(rate) || rate <= 0) return `${names.rate} must be a number of calls per second above 0 (got ${String(rate)})`;
  if (rate > configured && !allowAbove) {
    return `${names.rate} ${rate} is above the configured ${configured} calls per second (${names.configured}): the API would throttle it; add ${names.allowAbove} if the account's quota was raised`;
  }
  return undefined;
}

export async function readRateOverride(redis: RedisClient, key: string): Promise<RateOverride | undefined> {
  const parsed = storedSchema.safeParse(await redis.hgetall(key));
  if (!parsed.success) return undefined;
  const { until, reason, ticket, ...rest } = parsed.data;
  return { ...rest, ...(until !== undefined ? { until } : {}), ...(reason ? { reason } : {}), ...(ticket ? { ticket } : {}) };
}

/** Replaces the override in one step; with `forMs`, Redis deletes it when the time is up (PX), so it ends with no process watching. */
export async function writeRateOverride(redis: RedisClient, key: string, override: Omit<RateOverride, 'setAt' | 'until'>, forMs?: number): Promise<RateOverride> {
  const setAt = Date.now();
  const stored: RateOverride = { ...override, setAt, ...(forMs !== undefined ? { until: setAt + forMs } : {}) };
  const fields = Object.entries(stored).flatMap(([name, value]) => (value === undefined ? [] : [name, String(value)]));
  const multi = redis.multi().del(key).hset(key, ...fields);
  if (forMs !== undefined) multi.pexpire(key, forMs);
  await multi.exec();
  return stored;
}

/** Removes the override; returns the one that was in place, if any. */
export async function deleteRateOverride(redis: RedisClient, key: string): Promise<RateOverride | undefined> {
  const previous = await readRateOverride(redis, key);
  await redis.del(key);
  return previous;
}
