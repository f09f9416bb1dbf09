import { DelayedError, type Job } from 'bullmq';
import type { RetrySchedule } from '../config.ts';
import { classifyFailure } from '../live/error-codes.ts';
import type { LiveApi, LiveCallFailure } from '../live/client.ts';
import { OPERATION_INFO, type Operation } from '../live/operations.ts';
import { describeFieldErrors, parseParams } from '../jobs/schemas.ts';
import type { DeadLetterQueue, DeadLetterEntry } from '../queue/dead-letter.ts';
import { priorityOf } from '../queue/job-options.ts';
import type { Outcomes } from '../queue/outcomes.ts';
import type { Pauses } from '../queue/pauses.ts';
import type { Counter, Stats } from '../queue/stats.ts';
import type { Pacer } from '../ratelimit/pacer.ts';
import type { TokenBucket } from '../ratelimit/token-bucket.ts';
import type { Logger } from '../log.ts';
import type { HoldView } from './holds.ts';
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
  heldFor?: 'paused' | 'blacklist';
}

/** When the job first failed: kept on the job across retries, or now. */
function firstFailedAt(job: Job, now: number): number {
  const recorded = (job.progress as JobProgress | undefined)?.firstFailedAt;
  return typeof recorded === 'number' ? recorded : now;
}

/** How long a job of a paused operation waits before it goes back to the (paused) queue. */
const PAUSED_RECHECK_MS = 1000;

export interface ProcessorDeps {
  operation: Operation;
  live: LiveApi;
  pacer: Pacer;
  bucket: TokenBucket;
  deadLetters: DeadLetterQueue;
  stats: Stats;
  outcomes: Outcomes;
  pauses: Pauses;
  holds: HoldView;
  blacklistRecheckMs: number;
  retry: RetrySchedule;
  log: Logger;
  observer: WorkerObserver;
}

/**
 * One job: validate -> wait for a token -> call -> act on the answer as the
 * error-code table says. Waiting for the token happens in-process, so it costs
 * no retry attempt; retries come back through the same bucket.
 */
export function createProcessor(deps: ProcessorDeps): (job: Job, token?: string) => Promise<JobOutcome> {
  const { operation, live, pacer, bucket, deadLetters, stats, outcomes, pauses, holds, log, observer } = deps;

  /** Puts the job back to wait until `until` without using an attempt. */
  const hold = async (job: Job, token: string | undefined, until: number, heldFor: JobProgress['heldFor']): Promise<never> => {
    await job.updateProgress({ ...(job.progress as JobProgress | undefined), heldFor } as object);
    await job.moveToDelayed(until, token);
    throw new DelayedError();
  };

  /** Keeps the final outcome queryable after the job leaves the queue. */
  const finish = async (job: Job, result: JobOutcome, attempts: number, counter: Counter, calledApi = true): Promise<JobOutcome> => {
    // Both commands leave together: one round trip on every job's path.
    await Promise.all([
      stats.record(operation, counter, calledApi),
      outcomes.record({ jobId: job.id!, operation, attempts, finishedAt: Date.now(), ...result }),
    ]);
    observer.outcome(operation, result.outcome, 'code' in result ? result.code : undefined);
    return result;
  };

  const deadLetter = async (
    job: Job,
    entry: Omit<DeadLetterEntry, 'id' | 'operation' | 'params' | 'priority' | 'attempts' | 'firstFailedAt' | 'lastFailedAt'>,
    attempts: number,
    calledApi = true,
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
    return finish(job, { outcome: 'dead-lettered', code: entry.code, requestId: entry.requestId }, attempts, 'deadLettered', calledApi);
  };

  return async (job, token) => {
    const attempt = job.attemptsMade + 1;
    if (isUnreadablePayload(job.data)) {
      return deadLetter(job, { reason: 'invalid-payload', code: 'InvalidPayload', message: 'the payload stored in Redis is not valid JSON' }, attempt, false);
    }
    const parsed = parseParams(operation, job.data);
    if (!parsed.ok) {
      return deadLetter(job, { reason: 'invalid-payload', code: 'InvalidPayload', message: describeFieldErrors(parsed.errors) }, attempt, false);
    }
    const addsToBlacklist = operation === 'ForbidLiveStream' && (parsed.value as { Oneshot?: string }).Oneshot !== 'yes';

    const held = await holds.current();
    if (held.operationPaused) return hold(job, token, Date.now() + PAUSED_RECHECK_MS, 'paused');
    if (addsToBlacklist && held.blacklistHeldUntil) return hold(job, token, held.blacklistHeldUntil, 'blacklist');

    // A call that could not leave on time was never sent: take the next slot.
    let result;
    do {
      const slot = await pacer.acquire(job.opts.priority ?? 0);
      result = await live.call(operation, parsed.value, { sendBy: slot.sendBy });
    } while (!result.ok && result.notSent);
    observer.call(operation, result.ok ? 'OK' : result.code, result.latencyMs);

    if (result.ok) {
      log.info({ jobId: job.id, operation, requestId: result.requestId, attempt, latencyMs: Math.round(result.latencyMs) }, 'applied');
      return finish(job, { outcome: 'applied', requestId: result.requestId }, attempt, 'applied');
    }

    const { outcome, throttled } = classifyFailure(result);
    const context = { jobId: job.id, operation, code: result.code, requestId: result.requestId, attempt, latencyMs: Math.round(result.latencyMs) };
    if (throttled) {
      const rate = await bucket.onThrottled(result.retryAfterMs);
      await stats.record(operation, 'throttled', false);
      observer.throttled(operation);
      log.warn({ ...context, retryAfterMs: result.retryAfterMs, rate }, 'throttled by the API; slowing the bucket');
    }

    if (outcome === 'already-applied') {
      log.info(context, 'already applied');
      return finish(job, { outcome: 'already-applied', code: result.code, requestId: result.requestId }, attempt, 'alreadyApplied');
    }

    const failure = { code: result.code, message: result.message, httpStatus: result.httpStatus, requestId: result.requestId };
    if (outcome === 'pause-operation') {
      const first = await pauses.pauseOperation(operation, { code: result.code, message: result.message, since: Date.now() });
      holds.invalidate();
      if (first) log.error({ ...context, message: result.message }, `${operation} paused: the account is failing (${result.code}); jobs wait until \`livequeue resume ${OPERATION_INFO[operation].slug}\``);
      return hold(job, token, Date.now() + PAUSED_RECHECK_MS, 'paused');
    }
    if (outcome === 'pause-blacklist' && addsToBlacklist) {
      const until = Date.now() + deps.blacklistRecheckMs;
      const first = await pauses.holdBlacklist({ code: result.code, message: result.message, since: Date.now() }, until);
      holds.invalidate();
      if (first) log.error({ ...context, until: new Date(until).toISOString() }, 'blacklist full: bans that add to it wait and are re-checked; Oneshot=yes bans go on');
      return hold(job, token, until, 'blacklist');
    }
    // A terminal code, or a blacklist answer to a call that does not add to the blacklist.
    if (outcome === 'dead-letter' || outcome === 'pause-blacklist') return deadLetter(job, { reason: 'terminal', ...failure }, attempt);

    if (attempt >= (job.opts.attempts ?? 1)) return deadLetter(job, { reason: 'retries-exhausted', ...failure }, attempt);

    const now = Date.now();
    const history: JobProgress = { firstFailedAt: firstFailedAt(job, now), lastFailedAt: now, lastCode: result.code };
    await Promise.all([job.updateProgress(history as object), stats.record(operation, 'retried')]);
    observer.outcome(operation, 'retry', result.code);
    log.info(context, 'transient failure; will retry');
    throw new RetryableCallError(result);
  };
}
