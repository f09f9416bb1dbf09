import type { Job } from 'bullmq';
import { DelayedError, WaitingError, Worker } from '../queue/bullmq.ts';
import type { RetrySchedule } from '../config.ts';
import { classifyFailure } from '../catalog/error-codes.ts';
import type { LiveApi, LiveCallFailure, LiveCallSuccess } from '../live/client.ts';
import { OPERATION_INFO, type Operation } from '../catalog/operations.ts';
import { describeFieldErrors, parseParams } from '../jobs/schemas.ts';
import { targetOf } from '../jobs/targets.ts';
import type { DeadLetterQueue } from '../ledger/dead-letter.ts';
import { deadLetterEntry, recordedFirstFailure, type DeadLetterCause } from '../ledger/dead-letter-entry.ts';
import { accountOfJobId } from '../queue/names.ts';
import type { Outcomes } from '../ledger/outcomes.ts';
import type { FailureVerdict, Holds } from '../holds/holds.ts';
import type { Counter, Stats } from '../ledger/stats.ts';
import type { Pacer } from '../ratelimit/pacer.ts';
import type { TokenBucket } from '../ratelimit/token-bucket.ts';
import type { Logger } from '../log.ts';
import type { HoldView } from '../holds/view.ts';
import type { HostHold } from './host-hold.ts';
import { decide, nextQuestion, type Action, type Facts, type Question } from './decide.ts';
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
  return recordedFirstFailure(job.progress) ?? now;
}

/** What the processor knows of a job's call once it was made. */
interface Called {
  /** The job's parameters, as validated. */
  params: unknown;
  attempt: number;
  addsToBlacklist: boolean;
  /** The call was the operation's probe (it may have become one while waiting for its slot). */
  probe: boolean;
  /** The call was this process's probe of its own hold. */
  localProbe: boolean;
}

type LogContext = ReturnType<typeof contextOf>;

/** What every log line about a failed call names. */
function contextOf(operation: Operation, job: Job, failure: LiveCallFailure, attempt: number) {
  return { jobId: job.id, operation, code: failure.code, requestId: failure.requestId, attempt, latencyMs: Math.round(failure.latencyMs) };
}

/** Why a job goes back to waiting while this process holds itself. */
const HOST_HELD = 'this process holds itself: left for another process';

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

/** One account's operation: each job's path, from its checks to what its answer means. */
class JobProcessor {
  constructor(private readonly deps: ProcessorDeps) {}

  /** Puts the job back to wait until `until` without using an attempt. */
  private async delay(job: Job, token: string | undefined, until: number, progress: JobProgress): Promise<never> {
    await job.updateProgress({ ...(job.progress as JobProgress | undefined), ...progress } as object);
    await job.moveToDelayed(until, token);
    throw new DelayedError();
  }

  /**
   * Back to the queue, unchanged and without using an attempt, behind the
   * queue-wide gate: no worker takes the operation's jobs until `ms` have
   * passed (the next probe) or the hold is released.
   */
  private async waitForHold(ms: number): Promise<never> {
    const { operation, holds } = this.deps;
    await holds.closeGate(operation, ms);
    throw Worker.RateLimitError();
  }

  /**
   * Back to the front of its priority in the queue, unchanged and without
   * using an attempt: so that this worker's free place fetches an urgent job
   * (Pacer.giveWay), or so that another process takes it while this one holds
   * itself (HostHold).
   */
  private async backToWaiting(job: Job, token: string | undefined, why: string): Promise<never> {
    const { operation, log } = this.deps;
    await job.moveToWait(token);
    log.debug({ jobId: job.id, operation }, why);
    throw new WaitingError();
  }

  /** A real answer about the job arrived: the service, the account and this host's credentials work. */
  private async healthy(job: Job): Promise<void> {
    const { operation, holds, holdView, hostHold, log } = this.deps;
    await hostHold.succeeded();
    const released = await holds.healthy(operation, job.id!);
    if (!released) return;
    holdView.invalidate();
    log.warn({ operation, reason: released.reason, heldForMs: Date.now() - released.since, failedCalls: released.count }, `${operation} hold released: a call succeeded again`);
  }

  /** Keeps the final outcome queryable after the job leaves the queue. */
  private async finish(job: Job, result: JobOutcome, attempts: number, counter: Counter, call: CallKind): Promise<JobOutcome> {
    const { operation, stats, outcomes, observer } = this.deps;
    // The commands leave together: one round trip on every job's path.
    await Promise.all([
      stats.record(operation, counter, call !== 'none'),
      outcomes.record({ jobId: job.id!, operation, attempts, finishedAt: Date.now(), ...result }),
      call === 'answered' ? this.healthy(job) : undefined,
      result.outcome === 'dead-lettered' ? undefined : this.deps.onFinished(job.id!, job.data, result.outcome),
    ]);
    observer.outcome(operation, result.outcome, 'code' in result ? result.code : undefined);
    observer.finished(operation, result.outcome, Date.now() - job.timestamp);
    return result;
  }

  private async deadLetter(job: Job, cause: DeadLetterCause, attempts: number, call: CallKind) {
    const { operation, deadLetters, log } = this.deps;
    const now = Date.now();
    const entry = deadLetterEntry(
      { id: job.id!, operation, params: job.data, priority: job.opts.priority, progress: job.progress, attempts },
      cause,
      { lastFailedAt: now, unrecordedFirstFailure: now },
    );
    await deadLetters.add(entry);
    log.warn({ jobId: job.id, operation, code: cause.code, requestId: cause.requestId, attempt: attempts, reason: cause.reason }, 'dead-lettered');
    return this.finish(job, { outcome: 'dead-lettered', code: cause.code, requestId: cause.requestId }, attempts, 'deadLettered', call);
  }

  /**
   * Waits for a slot and calls. A call that could not leave on time was
   * never sent: it takes the next slot. Gives way, or waits for a hold, when
   * one came up while the job waited.
   */
  private async callInSlot(job: Job, token: string | undefined, params: unknown, accountProbe: boolean, localProbe: boolean): Promise<{ result: LiveCallSuccess | LiveCallFailure; probe: boolean }> {
    const { operation, live, pacer, holds, holdView, hostHold, observer } = this.deps;
    let probe = accountProbe;
    for (;;) {
      const waitingSince = performance.now();
      // A probe decides whether a hold lifts: it waits at the front and never gives way.
      const grant = await pacer.acquire(probe || localProbe ? 0 : (job.opts.priority ?? 0));
      if (grant.kind === 'give-way') return this.backToWaiting(job, token, 'gave way to an urgent job');
      observer.slotWait(operation, performance.now() - waitingSince);
      // A hold may have tripped while this job waited for its slot: do not
      // call into it. Read from the local view only: a round trip here would
      // make the call late for its slot.
      if (!probe && holdView.peek().hold) {
        const gate = await holds.gate(operation, job.id!, targetOf(operation, params));
        if (gate.state === 'closed') return this.waitForHold(gate.retryInMs);
        probe = gate.state === 'probe';
      }
      // This process began to hold itself while the job waited: its call would fail the same way.
      if (!localProbe && hostHold.peek()) return this.backToWaiting(job, token, HOST_HELD);
      const result = await live.call(operation, params as never, { sendBy: grant.sendBy });
      if (result.ok || result.notSent !== true) {
        observer.call(operation, result.ok ? 'OK' : result.code, result.latencyMs);
        return { result, probe };
      }
      observer.missedSlot(operation);
    }
  }

  /** The quota is spent: slow the bucket, and tell a probe's hold the answer was no outage. */
  private async throttled(job: Job, failure: LiveCallFailure, probe: boolean, context: LogContext): Promise<void> {
    const { operation, bucket, stats, holds, log, observer } = this.deps;
    const rate = await bucket.onThrottled(failure.retryAfterMs);
    await Promise.all([stats.record(operation, 'throttled', false), probe ? holds.throttled(operation, job.id!) : undefined]);
    observer.throttled(operation);
    log.warn({ ...context, retryAfterMs: failure.retryAfterMs, rate }, 'throttled by the API; slowing the bucket');
  }

  /** Asks the operation's hold about a failure; says so when the hold trips, or a probe fails. */
  private async askHold(job: Job, failure: LiveCallFailure, question: Extract<Question, { ask: 'hold' }>, called: Called, hint: string | undefined): Promise<FailureVerdict> {
    const { operation, holds, holdView, log } = this.deps;
    const { reason, evidence, wider } = question;
    const target = targetOf(operation, called.params);
    const context = contextOf(operation, job, failure, called.attempt);
    const verdict = await holds.failure(operation, job.id!, reason, { code: failure.code, message: failure.message, target, evidence });
    if (verdict.verdict === 'counting') return verdict;
    if (verdict.verdict === 'tripped') {
      holdView.invalidate();
      log.error(
        { ...context, message: failure.message, target, reason, nextProbeAt: new Date(verdict.nextProbeAt).toISOString(), hint, ...(wider ? { why: wider } : {}) },
        `${operation} held (${reason}): ${failure.code}, e.g. for ${target}${wider ? `, and ${wider}` : ''}; jobs wait without using attempts and one probe call goes out now and then, each time another job; \`livequeue resume ${OPERATION_INFO[operation].slug}\` lifts it at once`,
      );
    }
    if (called.probe) log.warn({ ...context, target, nextProbeAt: new Date(verdict.nextProbeAt).toISOString() }, `probe failed with ${failure.code} for ${target}; the hold stays and the next probe is another job`);
    return verdict;
  }

  /** The facts decide needs: for a failure, gathered by asking the holds what it asks for. */
  private async gatherFacts(job: Job, result: LiveCallSuccess | LiveCallFailure, called: Called): Promise<Facts> {
    const { operation, hostHold } = this.deps;
    const facts: Facts = {
      answer: { ok: true },
      probe: called.probe,
      attempt: called.attempt,
      maxAttempts: job.opts.attempts ?? 1,
      addsToBlacklist: called.addsToBlacklist,
      retry: this.deps.retry,
      jitter: 0,
      blacklistRecheckMs: this.deps.blacklistRecheckMs,
      now: 0,
    };
    if (!result.ok) {
      const classified = classifyFailure(result);
      const context = contextOf(operation, job, result, called.attempt);
      facts.answer = { ok: false, classification: classified, retryAfterMs: result.retryAfterMs };
      if (classified.throttled) await this.throttled(job, result, called.probe, context);
      for (let question = nextQuestion(facts); question; question = nextQuestion(facts)) {
        // This host's credentials, signature or clock: this process first, the account only if the fault is wider.
        if (question.ask === 'host') facts.hostVerdict = await hostHold.failed(result.code, { ...context, hint: classified.hint }, called.localProbe);
        else facts.holdVerdict = await this.askHold(job, result, question, called, classified.hint);
      }
    }
    return { ...facts, jitter: Math.random(), now: Date.now() };
  }

  /** Slot, call, and what the answer means: the part of a job's path after every gate let it through. */
  private async callAndDecide(job: Job, token: string | undefined, params: unknown, attempt: number, addsToBlacklist: boolean, accountProbe: boolean, localProbe: boolean): Promise<JobOutcome> {
    const { result, probe } = await this.callInSlot(job, token, params, accountProbe, localProbe);
    const called: Called = { params, attempt, addsToBlacklist, probe, localProbe };
    return this.act(job, token, decide(await this.gatherFacts(job, result, called)), result, called);
  }

  /** Carries out what decide said. */
  private async act(job: Job, token: string | undefined, action: Action, result: LiveCallSuccess | LiveCallFailure, called: Called): Promise<JobOutcome> {
    const { operation, holds, log } = this.deps;
    const { attempt } = called;
    if (action.kind === 'finish-applied') {
      log.info({ jobId: job.id, operation, requestId: result.requestId, attempt, latencyMs: Math.round(result.latencyMs), probe: called.probe || undefined }, 'applied');
      return this.finish(job, { outcome: 'applied', requestId: result.requestId }, attempt, 'applied', 'answered');
    }
    if (result.ok) throw new Error(`decide: an applied call cannot end as ${action.kind}`);
    const context = contextOf(operation, job, result, attempt);
    switch (action.kind) {
      case 'already-applied':
        log.info(context, 'already applied');
        return this.finish(job, { outcome: 'already-applied', code: result.code, requestId: result.requestId }, attempt, 'alreadyApplied', 'answered');
      case 'dead-letter': {
        const { code, message, httpStatus, requestId } = result;
        return this.deadLetter(job, { reason: action.reason, code, message, httpStatus, requestId }, attempt, action.call);
      }
      case 'back-to-waiting':
        return this.backToWaiting(job, token, HOST_HELD);
      case 'wait-for-hold':
        return this.waitForHold(action.ms);
      case 'step-aside':
        await holds.closeGate(operation, action.gateMs);
        return this.delay(job, token, action.until, {});
      case 'hold-blacklist':
        return this.holdForBlacklist(job, token, result, action.until, context);
      case 'retry':
        return this.retry(job, token, action, result, context);
    }
  }

  /** The blacklist is full: this ban waits for the re-check, and the first to meet it says so. */
  private async holdForBlacklist(job: Job, token: string | undefined, failure: LiveCallFailure, until: number, context: LogContext): Promise<never> {
    const { holds, holdView, log } = this.deps;
    await this.healthy(job);
    const first = await holds.holdBlacklist({ code: failure.code, message: failure.message, since: Date.now() }, until);
    holdView.invalidate();
    if (first) {
      log.error({ ...context, until: new Date(until).toISOString() }, 'blacklist full: bans that add to it wait and are re-checked; Oneshot=yes bans go on');
      this.deps.onBlacklistFull?.();
    }
    return this.delayForBlacklist(job, token, until);
  }

  /**
   * Waits for the blacklist re-check. `resume forbid` may have released the
   * hold while this job decided to wait (from a cached view, or mid-move) and
   * read the delayed set before the job landed in it: the job then sees the
   * hold gone and releases itself, instead of waiting for the re-check.
   */
  private async delayForBlacklist(job: Job, token: string | undefined, until: number): Promise<never> {
    const { holds, holdView } = this.deps;
    await job.updateProgress({ ...(job.progress as JobProgress | undefined), heldFor: 'blacklist' } as object);
    await job.moveToDelayed(until, token);
    if (!(await holds.blacklistHold())) {
      holdView.invalidate();
      // Taken or finished by now means it is no longer held: nothing to do.
      await job.promote().catch(() => undefined);
    }
    throw new DelayedError();
  }

  /** Tries again later: at no cost behind a delay, or as BullMQ's retry that uses an attempt. */
  private async retry(job: Job, token: string | undefined, action: Extract<Action, { kind: 'retry' }>, failure: LiveCallFailure, context: LogContext): Promise<never> {
    const { operation, stats, log, observer } = this.deps;
    const now = Date.now();
    const history: JobProgress = { firstFailedAt: firstFailedAt(job, now), lastFailedAt: now, lastCode: failure.code };
    if (!action.costsAttempt) {
      await stats.record(operation, 'retried');
      observer.outcome(operation, 'retry', failure.code);
      log.info({ ...context, streak: action.streak }, 'service failure shared with other jobs; retrying without using an attempt');
      return this.delay(job, token, action.until, history);
    }
    await Promise.all([job.updateProgress(history as object), stats.record(operation, 'retried')]);
    observer.outcome(operation, 'retry', failure.code);
    log.info(context, 'transient failure; will retry');
    throw new RetryableCallError(failure);
  }

  async run(job: Job, token: string | undefined): Promise<JobOutcome> {
    const { operation, holds, holdView, hostHold } = this.deps;
    const attempt = job.attemptsMade + 1;
    if (isUnreadablePayload(job.data)) {
      return this.deadLetter(job, { reason: 'invalid-payload', code: 'InvalidPayload', message: 'the payload stored in Redis is not valid JSON' }, attempt, 'none');
    }
    // A job id names its account (queue/names.ts jobId); one that names
    // another account got into this account's queue by hand: never run it
    // with this account's credentials.
    const owner = accountOfJobId(job.id!);
    if (owner !== undefined && owner !== this.deps.account) {
      return this.deadLetter(job, { reason: 'invalid-payload', code: 'WrongAccount', message: `job ${job.id} belongs to account "${owner}", not "${this.deps.account}"; it was not called` }, attempt, 'none');
    }
    const parsed = parseParams(operation, job.data);
    if (!parsed.ok) {
      return this.deadLetter(job, { reason: 'invalid-payload', code: 'InvalidPayload', message: describeFieldErrors(parsed.errors) }, attempt, 'none');
    }
    const addsToBlacklist = operation === 'ForbidLiveStream' && (parsed.value as { Oneshot?: string }).Oneshot !== 'yes';
    // A ban whose ResumeTime passed while it waited (a hold, a backlog) would end at once: say so instead of sending it.
    const resumeTime = (parsed.value as { ResumeTime?: string }).ResumeTime;
    if (resumeTime !== undefined && Date.parse(resumeTime) <= Date.now()) {
      return this.deadLetter(job, { reason: 'terminal', code: 'ResumeTimePassed', message: `ResumeTime ${resumeTime} passed before the ban could be sent; enqueue it again with a later ResumeTime, or without one` }, attempt, 'none');
    }

    const held = await holdView.current();
    let probe = false;
    const target = targetOf(operation, parsed.value);
    if (held.hold) {
      const gate = await holds.gate(operation, job.id!, target);
      if (gate.state === 'closed') return this.waitForHold(gate.retryInMs);
      probe = gate.state === 'probe';
      if (gate.state === 'open') holdView.invalidate();
    }
    if (addsToBlacklist && held.blacklistHeldUntil) return this.delayForBlacklist(job, token, held.blacklistHeldUntil);

    const local = hostHold.gate();
    if (local === 'closed') return this.backToWaiting(job, token, HOST_HELD);
    try {
      return await this.callAndDecide(job, token, parsed.value, attempt, addsToBlacklist, probe, local === 'probe');
    } finally {
      // A local probe that ended without an answer (a hold, a give-way) lets the next job probe.
      if (local === 'probe') hostHold.settle();
    }
  }
}

/**
 * One job: validate -> pass the operation's hold -> wait for a token -> call
 * -> act on the answer as the error-code table says. Waiting for the token,
 * and waiting out a hold, cost no retry attempt; retries come back through
 * the same bucket.
 */
export function createProcessor(deps: ProcessorDeps): (job: Job, token?: string) => Promise<JobOutcome> {
  const processor = new JobProcessor(deps);
  return (job, token) => processor.run(job, token);
}
