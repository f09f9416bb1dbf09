import { defineScripts } from '../redis-scripts.ts';
import type { Job, Queue } from 'bullmq';
import type { RedisClient } from '../redis.ts';
import { z } from 'zod';
import type { HoldSettings } from '../config/settings.ts';

export type { HoldSettings };
import { HOLD_REASONS, type HoldReason } from '../catalog/error-codes.ts';
import { OPERATION_INFO, type Operation } from '../catalog/operations.ts';
import { THIS_PROCESS } from '../process-identity.ts';
import { blacklistFullKey, holdKeys } from '../queue/names.ts';

/**
 * Holds: an operation that must not be called now, shared by every worker
 * process through Redis. While an operation is held, its jobs wait in the
 * queue without using an attempt, and one probe call goes out now and then
 * to learn whether the cause is gone.
 *
 * - systemic: the service fails (5xx, network, gateway pages, unknown codes).
 *   Trips when `tripAfter` service failures come in a row, spanning at least
 *   `tripDistinctJobs` different jobs: one job the service cannot handle is
 *   that job's problem, many jobs failing alike is the service's. At the
 *   default 8-in-a-row, a healthy service with 1% transient errors trips it
 *   with a chance of 1e-16 per call, and an outage trips it within half a
 *   second at 20 QPS.
 * - credentials / account: an answer that can only be about the account
 *   (credentials, clock, permissions, the caller's quota) holds at once.
 * - Both probe: the first probe after `probeMs`, backing off (doubling) to at
 *   most `probeMaxMs`. The first real answer about a job releases the hold.
 *   A short credential blip (an STS refresh) therefore heals by itself. The
 *   cap is also how late the backlog may notice that an outage is over: at
 *   the default 5 s, a 20 QPS operation spends 1% of its quota on probes.
 * - manual: `livequeue pause`; no probes, only `livequeue resume` ends it.
 * - blacklist: the 10,000-stream blacklist is full. Holds only the bans that
 *   add to it, for the re-check interval; Oneshot=yes bans and monitor stops
 *   go on.
 *
 * Jobs wait at BullMQ's queue-wide rate-limit gate: a worker that meets a
 * hold sets the gate until the next probe and puts its job back, so no worker
 * anywhere fetches the operation's jobs until then (no polling of the
 * backlog). Releasing the hold opens the gate at once.
 */

/** A streak that sees no call for this long is forgotten. */
const STREAK_TTL_MS = 60_000;
/** How often workers look again at a manually held operation. */
const MANUAL_RECHECK_MS = 5_000;
/** Delayed jobs read per page when a resume releases bans held for the blacklist. */
const RELEASE_PAGE = 500;
/** Longest single gate: a worker asks again at least this often. */
const MAX_GATE_MS = 30_000;

export const holdSchema = z.object({
  reason: z.enum(HOLD_REASONS),
  since: z.coerce.number(),
  code: z.string(),
  message: z.string(),
  /** An example of what failed: the domain/app of a ban or lift, the MonitorId of a stop ('' for a manual hold). */
  target: z.string().default(''),
  /** Calls that met the failure since the hold began (for systemic, the streak that tripped it included). */
  count: z.coerce.number(),
  /** Epoch ms of the next probe; absent for manual and blacklist holds. */
  nextProbeAt: z.coerce.number().optional(),
});
export type Hold = z.output<typeof holdSchema>;

const blacklistHoldSchema = z.object({ code: z.string(), message: z.string(), since: z.number(), until: z.number() });
export type BlacklistHold = z.output<typeof blacklistHoldSchema>;

export type FailureVerdict =
  | { verdict: 'tripped' | 'held'; nextProbeAt: number }
  | { verdict: 'counting'; streak: number; distinctJobs: number; distinctTargets: number };

/** What a failure shows: the service's trouble, or an answer about this one request (see error-codes.ts 'refused'). */
export type FailureEvidence = 'service' | 'answered';

export type Gate = { state: 'open' | 'probe' | 'refused-target' } | { state: 'closed'; retryInMs: number };

/** The holds of one account's operations. */
export class Holds {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly account: string,
    private readonly settings: HoldSettings,
    /** The account's operation queues, whose gates the holds close and open. */
    private readonly queue: (operation: Operation) => Queue,
  ) {
    defineScripts(redis);
  }

  async current(operation: Operation): Promise<Hold | undefined> {
    const raw = await this.redis.hgetall(holdKeys(this.prefix, this.account, operation)[0]);
    if (Object.keys(raw).length === 0) return undefined;
    const parsed = holdSchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  /** A real answer about a job arrived. Returns the hold it released, if any. */
  async healthy(operation: Operation, jobId: string): Promise<Pick<Hold, 'reason' | 'since' | 'count'> | undefined> {
    const reply = (await this.run(operation, 'healthy', jobId, THIS_PROCESS.id)) as string[];
    if (reply[0] !== 'released') return undefined;
    await this.openGate(operation);
    return { reason: reply[1] as HoldReason, since: Number(reply[2]), count: Number(reply[3]) };
  }

  /**
   * A call failed for a reason that may not be the job's alone: `kind` is
   * 'systemic' or the account-level reason; `target` names what the call was
   * about (see targetOf), so that one code refusing one domain again and
   * again is told apart from one code refusing every domain.
   */
  async failure(operation: Operation, jobId: string, kind: HoldReason, failure: { code: string; message: string; target: string; evidence: FailureEvidence }): Promise<FailureVerdict> {
    const s = this.settings;
    const { code, message, target, evidence } = failure;
    const reply = (await this.run(operation, 'failure', jobId, code, message.slice(0, 500), kind, s.tripAfter, s.tripDistinctJobs, s.probeMs, s.probeMaxMs, STREAK_TTL_MS, target, evidence)) as string[];
    if (reply[0] === 'counting') return { verdict: 'counting', streak: Number(reply[1]), distinctJobs: Number(reply[2]), distinctTargets: Number(reply[3]) };
    return { verdict: reply[0] as 'tripped' | 'held', nextProbeAt: Number(reply[1]) };
  }

  /** A probe met Throttling: probe again after the same interval. */
  async throttled(operation: Operation, jobId: string): Promise<void> {
    await this.run(operation, 'throttled', jobId);
  }

  /**
   * May this job call the API now: no hold, or it is the probe? Or, under a
   * hold a code nobody listed tripped, the code refused this job's target
   * already ('refused-target'): the job calls on its own attempts, not as a
   * probe (see hold.lua).
   */
  async gate(operation: Operation, jobId: string, target: string): Promise<Gate> {
    const reply = (await this.run(operation, 'gate', jobId, this.settings.probeLeaseMs, MANUAL_RECHECK_MS, target)) as [string, number?];
    if (reply[0] === 'closed') return { state: 'closed', retryInMs: Number(reply[1]) };
    return { state: reply[0] as 'open' | 'probe' | 'refused-target' };
  }

  /**
   * Closes BullMQ's queue-wide gate for `ms`: no worker fetches the
   * operation's jobs until then (they ask again at least every second, see
   * the worker's maximumRateLimitDelay, so a release is seen at once).
   */
  async closeGate(operation: Operation, ms: number): Promise<void> {
    await this.queue(operation).rateLimit(Math.max(1, Math.min(MAX_GATE_MS, Math.round(ms))));
  }

  /** A manual hold: nothing is called until `resume`. */
  async pause(operation: Operation, message: string): Promise<void> {
    await this.run(operation, 'pause', message);
  }

  /**
   * Lifts every hold on the operation at once: opens its gate and, for bans,
   * releases the ones held for the blacklist. Returns the hold that was in
   * place and how many held bans were released.
   */
  async resume(operation: Operation): Promise<{ hold?: Hold; releasedBans: number }> {
    const fields = (await this.run(operation, 'release')) as string[];
    const raw = Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]]));
    const parsed = holdSchema.safeParse(raw);
    const queue = this.queue(operation);
    await this.openGate(operation);
    // A queue paused by hand (BullMQ's own pause) is resumed too: `resume` means "run".
    await queue.resume();
    let releasedBans = 0;
    if (OPERATION_INFO[operation].addsToBlacklist) {
      await this.redis.del(blacklistFullKey(this.prefix, this.account));
      // Every page is read before any job is promoted: a promoted job leaves
      // the delayed set, and reading page by page while promoting would skip
      // a page's worth of held bans each time.
      const held: Job[] = [];
      for (let start = 0; ; start += RELEASE_PAGE) {
        const delayed = await queue.getDelayed(start, start + RELEASE_PAGE - 1);
        held.push(...delayed.filter((job) => (job.progress as { heldFor?: string } | undefined)?.heldFor === 'blacklist'));
        if (delayed.length < RELEASE_PAGE) break;
      }
      for (const job of held) {
        // A job taken or finished since it was read is no longer held: promote refuses it.
        if (await job.promote().then(() => true, () => false)) releasedBans++;
      }
    }
    return { hold: parsed.success ? parsed.data : undefined, releasedBans };
  }

  /** Holds non-Oneshot bans until `until`; returns false if a hold was already in place. */
  async holdBlacklist(info: Omit<BlacklistHold, 'until'>, until: number): Promise<boolean> {
    const previous = await this.redis.set(blacklistFullKey(this.prefix, this.account), JSON.stringify({ ...info, until }), 'PX', Math.max(1, until - Date.now()), 'GET');
    return previous === null;
  }

  async blacklistHold(): Promise<BlacklistHold | undefined> {
    const raw = await this.redis.get(blacklistFullKey(this.prefix, this.account));
    if (raw === null) return undefined;
    const parsed = blacklistHoldSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }

  private async openGate(operation: Operation): Promise<void> {
    await this.queue(operation).removeRateLimitKey();
  }

  private run(operation: Operation, command: string, ...args: (string | number)[]): Promise<unknown> {
    return this.redis.livequeueHold(...holdKeys(this.prefix, this.account, operation), command, Date.now(), ...args);
  }
}
