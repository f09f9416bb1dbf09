import { OPERATION_INFO, type Operation } from '../catalog/operations.ts';
import type { Hold, Holds } from './holds.ts';

export interface HoldState {
  /** The operation's hold (systemic, account-level or manual), if one is in place. */
  hold?: Hold;
  /** Epoch ms until which bans that add to the blacklist are held. */
  blacklistHeldUntil?: number;
}

/**
 * A worker's view of the holds, read from Redis at most every `refreshMs`
 * instead of once per job. A stale view costs at most a few calls that meet
 * the same failure and are held then; who may probe is always decided in
 * Redis (Holds.gate), never from this view.
 */
export class HoldView {
  private cached?: { state: HoldState; at: number };
  private refreshing?: Promise<HoldState>;

  constructor(
    private readonly holds: Holds,
    private readonly operation: Operation,
    private readonly refreshMs = 250,
  ) {}

  async current(): Promise<HoldState> {
    if (this.cached && Date.now() - this.cached.at < this.refreshMs) return this.cached.state;
    return this.refresh();
  }

  /**
   * The last state read, at once, with no round trip: for the moment between
   * a paced slot and its send, where waiting for Redis would make the call
   * late. A stale view is refreshed in the background.
   */
  peek(): HoldState {
    if (!this.cached || Date.now() - this.cached.at >= this.refreshMs) void this.refresh().catch(() => {});
    return this.cached?.state ?? {};
  }

  private refresh(): Promise<HoldState> {
    this.refreshing ??= (async () => {
      const now = Date.now();
      const [hold, blacklist] = await Promise.all([
        this.holds.current(this.operation),
        OPERATION_INFO[this.operation].addsToBlacklist ? this.holds.blacklistHold() : undefined,
      ]);
      const state = { hold, blacklistHeldUntil: blacklist?.until };
      this.cached = { state, at: now };
      return state;
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  invalidate(): void {
    this.cached = undefined;
  }
}
