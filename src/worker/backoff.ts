import type { RetrySchedule } from '../config.ts';

/**
 * Delay before retry number `retry` (1 = first retry): exponential from the
 * base, capped, with "equal jitter" (a random point in the upper half) so a
 * recovering backlog does not come back in lockstep. A server hint (Retry-After,
 * TimeLeft) is a floor.
 */
export function retryDelayMs(schedule: RetrySchedule, retry: number, serverHintMs = 0, random = Math.random): number {
  const exponential = Math.min(schedule.maxDelayMs, schedule.baseDelayMs * 2 ** Math.max(0, retry - 1));
  const jittered = exponential / 2 + random() * (exponential / 2);
  return Math.round(Math.max(jittered, serverHintMs));
}

/** The shortest time a job keeps retrying before it is dead-lettered (all jitter at its minimum). */
export function minimumRetryWindowMs(schedule: RetrySchedule): number {
  let total = 0;
  for (let retry = 1; retry < schedule.attempts; retry++) total += retryDelayMs(schedule, retry, 0, () => 0);
  return total;
}
