import type { Job } from 'bullmq';
import { DelayedError, WaitingError, Worker } from '../queue/bullmq.ts';
import type { RetrySchedule } from '../config.ts';
import { classifyFailure, type HoldReason } from '../live/error-codes.ts';
import type { LiveApi, LiveCallFailure } from '../live/client.ts';
import { OPERATION_INFO, type Operation } from '../live/operations.ts';
import { describeFieldErrors, parseParams } from '../jobs/schemas.ts';
import { targetOf } from '../jobs/targets.ts';
import type { DeadLetterQueue, DeadLetterEntry } from '../queue/dead-letter.ts';
import { priorityOf } from '../queue/job-options.ts';
import { accountOfJobId } from '../queue/names.ts';
import type { Outcomes } from '../queue/outcomes.ts';
import type { Holds } from '../queue/holds.ts';
import type { Counter, Stats } from '../queue/stats.ts';
import type { Pacer } from '../ratelimit/pacer.ts';
import type { TokenBucket } from '../ratelimit/token-bucket.ts';
import type { Logger } from '../log.ts';
import type { HoldView } from './holds.ts';
import type { HostHold } from './host-hold.ts';
import { retryDelayMs } from './backoff.ts';
import { isUnreadablePayload } from './tolerant-worker.ts';
import type { WorkerObserver } from './observer.ts';

export type JobOutcome =
  | { outcome: 'applied'; requestId?: string }
  | { outcome: 'already-applied'; code: string; requestId?: string }
  | { outcome: 'dead-lettered'; code: string; requestId?: string };

/** Thrown for a transient failure: BullMQ schedules the retry with our backoff. */
export class RetryableCallError extends Error {
  constructor(readonly failure: LiveCallFailure) {
    super(`${failure.code}: ${failure.message}${failure.requestId ? ` (RequestId ${failure.requestId})` : ''}`);
    this.name = 'RetryableCallError';
  }
}

/** Bookkeeping kept on the job (as its progress) between attempts. */
interface JobProgress {
  firstFailedAt?: number;
  lastFailedAt?: number;
  lastCode?: string;
  /** Why the job is waiting without having used an attempt. */
  heldFor?: 'blacklist';
}

/**
 * What a job's path made of the API: no call (invalid payload), a call that
 * failed for a reason not the job's, or a call answered about the job itself
 * (which proves the service and the account work, and so ends a hold).
 */
type CallKind = 'none' | 'failed' | 'answered';

/** When the job first failed: kept on the job across retries, or now. */
function firstFailedAt(job: Job, now: number): number {
  const recorded = (job.progress as JobProgress | undefined)?.firstFailedAt;
  return typeof recorded === 'number' ? recorded : now;
}

export interface ProcessorDeps {
  /** The account whose credentials and bucket this processor uses. */
  account: string;
  operation: Operation;
  live: LiveApi;
  pacer: Pacer;
  bucket: TokenBucket;
  deadLetters: DeadLetterQueue;
  stats: Stats;
  outcomes: Outcomes;
  holds: Holds;
  holdView: HoldView;
  /** This process's own hold for host-local faults (credentials, signature, clock), shared by the account's operations. */
  hostHold: HostHold;
  blacklistRecheckMs: number;
  /** Called as a job ends applied or already-applied (its batch, the blacklist count). */
  onFinished: (jobId: string, params: unknown, outcome: 'applied' | 'already-applied') => Promise<void>;
  /** Called once when a blacklist hold begins: the figures are read again. */
  onBlacklistFull?: () => void;
  retry: RetrySchedule;
  log: Logger;
  observer: WorkerObserver;
}

/**
 * One job: validate -> pass the operation's hold -> wait for a token -> call
 * -> act on the answer as the error-code table says. Waiting for the token,
 * and waiting out a hold, cost no retry attempt; retries come back through
 * the same bucket.
 */
export function createProcessor(deps: ProcessorDeps): (job: Job, token?: string) => Promise<JobOutcome> {
  const { operation, live, pacer, bucket, deadLetters, stats, outcomes, holds, holdView, hostHold, log, observer } = deps;

  /** Puts the job back to wait until `until` without using an attempt. */
  const delay = async (job: Job, token: string | undefined, until: number, progress: JobProgress): Promise<never> => {
    await job.updateProgress({ ...(job.progress as JobProgress | undefined), ...progress } as object);
    await job.moveToDelayed(until, token);
    throw new DelayedError();
  };

  /**
   * Back to the queue, unchanged and without using an attempt, behind the
   * queue-wide gate: no worker takes the operation's jobs until `ms` have
   * passed (the next probe) or the hold is released.
   */
  const waitForHold = async (ms: number): Promise<never> => {
    await holds.closeGate(operation, ms);
    throw Worker.RateLimitError();
  };

  /**
   * Back to the front of its priority in the queue, unchanged and without
   * using an attempt: so that this worker's free place fetches an urgent job
   * (Pacer.giveWay), or so that another process takes it while this one holds
   * itself (HostHold).
   */
  const backToWaiting = async (job: Job, token: string | undefined, why: string): Promise<never> => {
    await job.moveToWait(token);
    log.debug({ jobId: job.id, operation }, why);
    throw new WaitingError();
  };

  /** A real answer about the job arrived: the service, the account and this host's credentials work. */
  const healthy = async (job: Job): Promise<void> => {
    await hostHold.succeeded();
    const released = await holds.healthy(operation, job.id!);
    if (!released) return;
    holdView.invalidate();
    log.warn({ operation, reason: released.reason, heldForMs: Date.now() - released.since, failedCalls: released.count }, `${operation} hold released: a call succeeded again`);
  };

  /** Keeps the final outcome queryable after the job leaves the queue. */
  const finish = async (job: Job, result: JobOutcome, attempts: number, counter: Counter, call: CallKind): Promise<JobOutcome> => {
    // The commands leave together: one round trip on every job's path.
    await Promise.all([
      stats.record(operation, counter, call !== 'none'),
      outcomes.record({ jobId: job.id!, operation, attempts, finishedAt: Date.now(), ...result }),
      call === 'answered' ? healthy(job) : undefined,
      result.outcome === 'dead-lettered' ? undefined : deps.onFinished(job.id!, job.data, result.outcome),
    ]);
    observer.outcome(operation, result.outcome, 'code' in result ? result.code : undefined);
    observer.finished(operation, result.outcome, Date.now() - job.timestamp);
    return result;
  };

  const deadLetter = async (
    job: Job,
    entry: Omit<DeadLetterEntry, 'id' | 'operation' | 'params' | 'priority' | 'attempts' | 'firstFailedAt' | 'lastFailedAt'>,
    attempts: number,
    call: CallKind,
  ) => {
    const now = Date.now();
    await deadLetters.add({
      id: job.id!,
      operation,
      params: job.data,
      priority: priorityOf(job.opts.priority),
      attempts,
      firstFailedAt: firstFailedAt(job, now),
      lastFailedAt: now,
      ...entry,
    });
    log.warn({ jobId: job.id, operation, code: entry.code, requestId: entry.requestId, attempt: attempts, reason: entry.reason }, 'dead-lettered');
    return finish(job, { outcome: 'dead-lettered', code: entry.code, requestId: entry.requestId }, attempts, 'deadLettered', call);
  };

  /** Slot, call, and what the answer means: the part of a job's path after every gate let it through. */
  async function callAndDecide(job: Job, token: string | undefined, params: unknown, attempt: number, addsToBlacklist: boolean, accountProbe: boolean, localProbe: boolean): Promise<JobOutcome> {
    let probe = accountProbe;

    // A call that could not leave on time was never sent: take the next slot.
    let result;
    do {
      const waitingSince = performance.now();
      // A probe decides whether a hold lifts: it waits at the front and never gives way.
      const grant = await pacer.acquire(probe || localProbe ? 0 : (job.opts.priority ?? 0));
      if (grant.kind === 'give-way') return backToWaiting(job, token, 'gave way to an urgent job');
      observer.slotWait(operation, performance.now() - waitingSince);
      // A hold may have tripped while this job waited for its slot: do not
      // call into it. Read from the local view only: a round trip here would
      // make the call late for its slot.
      if (!probe && holdView.peek().hold) {
        const gate = await holds.gate(operation, job.id!, targetOf(operation, params));
        if (gate.state === 'closed') return waitForHold(gate.retryInMs);
        probe = gate.state === 'probe';
      }
      // This process began to hold itself while the job waited: its call would fail the same way.
      if (!localProbe && hostHold.peek()) return backToWaiting(job, token, 'this process holds itself: left for another process');
      result = await live.call(operation, params as never, { sendBy: grant.sendBy });
      if (!result.ok && result.notSent) observer.missedSlot(operation);
    } while (!result.ok && result.notSent);
    observer.call(operation, result.ok ? 'OK' : result.code, result.latencyMs);

    if (result.ok) {
      log.info({ jobId: job.id, operation, requestId: result.requestId, attempt, latencyMs: Math.round(result.latencyMs), probe: probe || undefined }, 'applied');
      return finish(job, { outcome: 'applied', requestId: result.requestId }, attempt, 'applied', 'answered');
    }

    const classified = classifyFailure(result);
    const { outcome, throttled } = classified;
    const context = { jobId: job.id, operation, code: result.code, requestId: result.requestId, attempt, latencyMs: Math.round(result.latencyMs) };
    if (throttled) {
      const rate = await bucket.onThrottled(result.retryAfterMs);
      await Promise.all([stats.record(operation, 'throttled', false), probe ? holds.throttled(operation, job.id!) : undefined]);
      observer.throttled(operation);
      log.warn({ ...context, retryAfterMs: result.retryAfterMs, rate }, 'throttled by the API; slowing the bucket');
    }

    if (outcome === 'already-applied') {
      log.info(context, 'already applied');
      return finish(job, { outcome: 'already-applied', code: result.code, requestId: result.requestId }, attempt, 'alreadyApplied', 'answered');
    }

    const failure = { code: result.code, message: result.message, httpStatus: result.httpStatus, requestId: result.requestId };
    const target = targetOf(operation, params);
    let holdKind: HoldReason | undefined;
    let wider: string | undefined;
    if (outcome === 'hold-host') {
      // This host's credentials, signature or clock: this process first, the account only if the fault is wider.
      const verdict = await hostHold.failed(result.code, { ...context, hint: classified.hint }, localProbe);
      if (verdict.scope === 'local') return backToWaiting(job, token, 'this process holds itself: left for another process');
      holdKind = classified.holdReason ?? 'credentials';
      wider = verdict.why === 'several-processes' ? 'more than one process meets it' : 'no process of the account succeeds';
    } else if (outcome === 'hold-account' || outcome === 'systemic' || outcome === 'refused') {
      holdKind = outcome === 'hold-account' ? (classified.holdReason ?? 'account') : 'systemic';
    }
    if (holdKind !== undefined) {
      const verdict = await holds.failure(operation, job.id!, holdKind, { code: result.code, message: result.message, target, evidence: outcome === 'refused' ? 'answered' : 'service' });
      if (verdict.verdict === 'tripped') {
        holdView.invalidate();
        log.error(
          { ...context, message: result.message, target, reason: holdKind, nextProbeAt: new Date(verdict.nextProbeAt).toISOString(), hint: classified.hint, ...(wider ? { why: wider } : {}) },
          `${operation} held (${holdKind}): ${result.code}, e.g. for ${target}${wider ? `, and ${wider}` : ''}; jobs wait without using attempts and one probe call goes out now and then, each time another job; \`livequeue resume ${OPERATION_INFO[operation].slug}\` lifts it at once`,
        );
      }
      if (verdict.verdict !== 'counting') {
        if (probe) log.warn({ ...context, target, nextProbeAt: new Date(verdict.nextProbeAt).toISOString() }, `probe failed with ${result.code} for ${target}; the hold stays and the next probe is another job`);
        // A refusal is this request's own answer: it uses an attempt below (and leaves the front of the queue).
        if (outcome !== 'refused') {
          if (!probe) return waitForHold(verdict.nextProbeAt - Date.now());
          // A failed probe steps aside, so the next probe is another job: a hold one bad group of jobs caused ends as soon as a good one answers.
          await holds.closeGate(operation, verdict.nextProbeAt - Date.now());
          return delay(job, token, verdict.nextProbeAt, {});
        }
      }
      // A service failure others share (more than one job since the last
      // healthy answer) may be an outage forming: it costs no attempt. A
      // failure only this job meets is its own and counts, so a job the
      // service can never handle still ends in the dead-letter queue.
      if (verdict.verdict === 'counting' && outcome !== 'refused' && verdict.distinctJobs > 1) {
        await stats.record(operation, 'retried');
        observer.outcome(operation, 'retry', result.code);
        log.info({ ...context, streak: verdict.streak }, 'service failure shared with other jobs; retrying without using an attempt');
        const now = Date.now();
        return delay(job, token, now + retryDelayMs(deps.retry, attempt, result.retryAfterMs), { firstFailedAt: firstFailedAt(job, now), lastFailedAt: now, lastCode: result.code });
      }
    } else {
      if (outcome === 'hold-blacklist' && addsToBlacklist) {
        await healthy(job);
        const until = Date.now() + deps.blacklistRecheckMs;
        const first = await holds.holdBlacklist({ code: result.code, message: result.message, since: Date.now() }, until);
        holdView.invalidate();
        if (first) {
          log.error({ ...context, until: new Date(until).toISOString() }, 'blacklist full: bans that add to it wait and are re-checked; Oneshot=yes bans go on');
          deps.onBlacklistFull?.();
        }
        return delay(job, token, until, { heldFor: 'blacklist' });
      }
      // A terminal code, or a blacklist answer to a call that does not add to the blacklist.
      if (outcome === 'dead-letter' || outcome === 'hold-blacklist') return deadLetter(job, { reason: 'terminal', ...failure }, attempt, 'answered');
    }

    if (attempt >= (job.opts.attempts ?? 1)) return deadLetter(job, { reason: 'retries-exhausted', ...failure }, attempt, 'failed');

    const now = Date.now();
    const history: JobProgress = { firstFailedAt: firstFailedAt(job, now), lastFailedAt: now, lastCode: result.code };
    await Promise.all([job.updateProgress(history as object), stats.record(operation, 'retried')]);
    observer.outcome(operation, 'retry', result.code);
    log.info(context, 'transient failure; will retry');
    throw new RetryableCallError(result);
  }

  return async (job, token) => {
    const attempt = job.attemptsMade + 1;
    if (isUnreadablePayload(job.data)) {
      return deadLetter(job, { reason: 'invalid-payload', code: 'InvalidPayload', message: 'the payload stored in Redis is not valid JSON' }, attempt, 'none');
    }
    // A job id names its account (queue/names.ts jobId); one that names
    // another account got into this account's queue by hand: never run it
    // with this account's credentials.
    const owner = accountOfJobId(job.id!);
    if (owner !== undefined && owner !== deps.account) {
      return deadLetter(job, { reason: 'invalid-payload', code: 'WrongAccount', message: `job ${job.id} belongs to account "${owner}", not "${deps.account}"; it was not called` }, attempt, 'none');
    }
    const parsed = parseParams(operation, job.data);
    if (!parsed.ok) {
      return deadLetter(job, { reason: 'invalid-payload', code: 'InvalidPayload', message: describeFieldErrors(parsed.errors) }, attempt, 'none');
    }
    const addsToBlacklist = operation === 'ForbidLiveStream' && (parsed.value as { Oneshot?: string }).Oneshot !== 'yes';
    // A ban whose ResumeTime passed while it waited (a hold, a backlog) would end at once: say so instead of sending it.
    const resumeTime = (parsed.value as { ResumeTime?: string }).ResumeTime;
    if (resumeTime !== undefined && Date.parse(resumeTime) <= Date.now()) {
      return deadLetter(job, { reason: 'terminal', code: 'ResumeTimePassed', message: `ResumeTime ${resumeTime} passed before the ban could be sent; enqueue it again with a later ResumeTime, or without one` }, attempt, 'none');
    }

    const held = await holdView.current();
    let probe = false;
    const target = targetOf(operation, parsed.value);
    if (held.hold) {
      const gate = await holds.gate(operation, job.id!, target);
      if (gate.state === 'closed') return waitForHold(gate.retryInMs);
      probe = gate.state === 'probe';
      if (gate.state === 'open') holdView.invalidate();
    }
    if (addsToBlacklist && held.blacklistHeldUntil) return delay(job, token, held.blacklistHeldUntil, { heldFor: 'blacklist' });

    const local = hostHold.gate();
    if (local === 'closed') return backToWaiting(job, token, 'this process holds itself: left for another process');
    try {
      return await callAndDecide(job, token, parsed.value, attempt, addsToBlacklist, probe, local === 'probe');
    } finally {
      // A local probe that ended without an answer (a hold, a give-way) lets the next job probe.
      if (local === 'probe') hostHold.settle();
    }
  };

}
