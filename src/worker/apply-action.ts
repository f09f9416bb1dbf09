import type { Job } from 'bullmq';
import type { LiveCallFailure, LiveCallSuccess } from '../live/client.ts';
import { recordedFirstFailure } from '../ledger/dead-letter-entry.ts';
import type { ProcessorDeps } from './processor-deps.ts';
import type { Action } from './decide.ts';
import { contextOf, type Called, type LogContext } from './called.ts';
import { backToWaiting, delay, delayForBlacklist, HOST_HELD, waitForHold, type JobProgress } from './job-moves.ts';
import { deadLetter, finish, healthy, type JobOutcome } from './job-endings.ts';

/** Thrown for a transient failure: BullMQ schedules the retry with our backoff. */
export class RetryableCallError extends Error {
  constructor(readonly failure: LiveCallFailure) {
    super(`${failure.code}: ${failure.message}${failure.requestId ? ` (RequestId ${failure.requestId})` : ''}`);
    this.name = 'RetryableCallError';
  }
}

/** When the job first failed: kept on the job across retries, or now. */
function firstFailedAt(job: Job, now: number): number {
  return recordedFirstFailure(job.progress) ?? now;
}

/** The blacklist is full: this ban waits for the re-check, and the first to meet it says so. */
async function holdForBlacklist(deps: ProcessorDeps, job: Job, token: string | undefined, failure: LiveCallFailure, until: number, context: LogContext): Promise<never> {
  const { holds, holdView, log } = deps;
  // The full blacklist is an answer about the job: the service and the account work.
  await healthy(deps, job);
  const first = await holds.holdBlacklist({ code: failure.code, message: failure.message, since: Date.now() }, until);
  holdView.invalidate();
  if (first) {
    log.error({ ...context, until: new Date(until).toISOString() }, 'blacklist full: bans that add to it wait and are re-checked; Oneshot=yes bans go on');
    deps.onBlacklistFull?.();
  }
  return delayForBlacklist(deps, job, token, until);
}

/** Tries again later: at no cost behind a delay, or as BullMQ's retry that uses an attempt. */
async function retry(deps: ProcessorDeps, job: Job, token: string | undefined, action: Extract<Action, { kind: 'retry' }>, failure: LiveCallFailure, context: LogContext, sentAt: number): Promise<never> {
  const { operation, stats, log, observer } = deps;
  const now = Date.now();
  const history: JobProgress = { firstFailedAt: firstFailedAt(job, now), lastFailedAt: now, lastCode: failure.code };
  if (!action.costsAttempt) {
    await stats.record(operation, 'retried', true, sentAt);
    observer.outcome(operation, 'retry', failure.code);
    log.info({ ...context, streak: action.streak }, 'service failure shared with other jobs; retrying without using an attempt');
    return delay(job, token, action.until, history);
  }
  await Promise.all([job.updateProgress(history as object), stats.record(operation, 'retried', true, sentAt)]);
  observer.outcome(operation, 'retry', failure.code);
  log.info(context, 'transient failure; will retry');
  throw new RetryableCallError(failure);
}

/** Carries out what decide said: ends the job, or moves it to wait or retry. */
export async function applyAction(deps: ProcessorDeps, job: Job, token: string | undefined, action: Action, result: LiveCallSuccess | LiveCallFailure, called: Called): Promise<JobOutcome> {
  const { operation, holds } = deps;
  const { attempt } = called;
  if (action.kind === 'finish-applied') {
    return finish(deps, job, { outcome: 'applied', requestId: result.requestId }, attempt, 'applied', 'answered', { latencyMs: Math.round(result.latencyMs), ...(called.probe ? { probe: true } : {}) }, called.sentAt);
  }
  if (result.ok) throw new Error(`decide: an applied call cannot end as ${action.kind}`);
  const context = contextOf(operation, job, result, attempt);
  switch (action.kind) {
    case 'already-applied':
      return finish(deps, job, { outcome: 'already-applied', code: result.code, requestId: result.requestId }, attempt, 'alreadyApplied', 'answered', { latencyMs: context.latencyMs }, called.sentAt);
    case 'dead-letter': {
      const { code, message, httpStatus, requestId } = result;
      return deadLetter(deps, job, { reason: action.reason, code, message, httpStatus, requestId }, attempt, action.call, called.sentAt);
    }
    case 'back-to-waiting':
      return backToWaiting(deps, job, token, HOST_HELD);
    case 'wait-for-hold':
      return waitForHold(deps, action.ms);
    case 'step-aside':
      await holds.closeGate(operation, action.gateMs);
      return delay(job, token, action.until, {});
    case 'hold-blacklist':
      return holdForBlacklist(deps, job, token, result, action.until, context);
    case 'retry':
      return retry(deps, job, token, action, result, context, called.sentAt);
  }
}
