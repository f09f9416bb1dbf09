import type { Operation } from '../live/operations.ts';
import type { Pauses } from '../queue/pauses.ts';

export interface HoldState {
  operationPaused: boolean;
  /** Epoch ms until which bans that add to the blacklist are held. */
  blacklistHeldUntil?: number;
}

/**
 * A worker's view of the account-level holds, read from Redis at most every
 * `refreshMs` instead of once per job. A stale view costs at most a few calls
 * that meet the same error and are held then.
 */
export class HoldView {
  private cached?: { state: HoldState; at: number };

  constructor(
    private readonly pauses: Pauses,
    private readonly operation: Operation,
    private readonly refreshMs = 250,
  ) {}

  async current(): Promise<HoldState> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.refreshMs) return this.cached.state;
    const [pause, blacklist] = await Promise.all([
      this.pauses.operationPause(this.operation),
      this.operation === 'ForbidLiveStream' ? this.pauses.blacklistHold() : undefined,
    ]);
    const state = { operationPaused: pause !== undefined, blacklistHeldUntil: blacklist?.until };
    this.cached = { state, at: now };
    return state;
  }

  invalidate(): void {
    this.cached = undefined;
  }
}
