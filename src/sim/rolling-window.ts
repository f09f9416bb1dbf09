export interface WindowDecision {
  allowed: boolean;
  limit: number;
  /** Calls still allowed in the current window, after this one. */
  remaining: number;
  /** Ms until the oldest counted call leaves the window, freeing a slot. */
  timeLeftMs: number;
  /** Epoch ms at which that slot frees. */
  resetAt: number;
}

/**
 * A strict rolling window: a call arriving at `now` is allowed only if fewer
 * than `limit` calls were allowed in (now - windowMs, now]. Unlike a fixed
 * window, no two adjacent windows can together let 2 x limit calls through
 * within one windowMs.
 */
export class RollingWindowLimiter {
  // Per key, the arrival times of allowed calls still inside the window (at most `limit`).
  readonly #allowed = new Map<string, number[]>();

  constructor(private readonly windowMs: number) {}

  tryAcquire(key: string, limit: number, now: number): WindowDecision {
    let times = this.#allowed.get(key);
    if (!times) this.#allowed.set(key, (times = []));
    while (times.length > 0 && times[0]! <= now - this.windowMs) times.shift();
    const allowed = times.length < limit;
    if (allowed) times.push(now);
    const resetAt = (times[0] ?? now) + this.windowMs;
    return {
      allowed,
      limit,
      remaining: limit - times.length,
      timeLeftMs: Math.max(0, Math.ceil(resetAt - now)),
      resetAt: Math.ceil(resetAt),
    };
  }

  reset(): void {
    this.#allowed.clear();
  }
}
