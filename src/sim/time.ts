/**
 * Epoch milliseconds from a monotonic source: wall-clock steps (NTP) must not
 * shrink or stretch a rolling window.
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** Epoch ms of a `yyyy-MM-ddTHH:mm:ssZ` string, or undefined if it is not a real UTC instant. */
export function parseTimestamp(value: string | undefined): number | undefined {
  if (value === undefined || !TIMESTAMP.test(value)) return undefined;
  const ms = Date.parse(value);
  // Date.parse rolls 2024-02-30 over into March; a real instant survives the round trip.
  return !Number.isNaN(ms) && new Date(ms).toISOString() === `${value.slice(0, 19)}.000Z` ? ms : undefined;
}

/** `from` plus whole calendar months, in UTC. */
export function addMonths(from: number, months: number): number {
  const d = new Date(from);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.getTime();
}
