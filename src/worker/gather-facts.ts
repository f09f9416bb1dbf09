import type { Job } from 'bullmq';
import { classifyFailure } from '../catalog/error-codes.ts';
import type { LiveCallFailure, LiveCallSuccess } from '../live/client.ts';
import { OPERATION_INFO } from '../catalog/operations.ts';
import { targetOf } from '../jobs/targets.ts';
import type { FailureVerdict } from '../holds/holds.ts';
import type { ProcessorDeps } from './processor-deps.ts';
import { nextQuestion, type Facts, type Question } from './decide.ts';
import { contextOf, type Called, type LogContext } from './called.ts';

/**
 * The I/O half of deciding: decide (worker/decide.ts) is pure, so the facts
 * it needs about a failure — the throttle, this process's and the
 * operation's hold verdicts — are asked for here, as it asks for them.
 */

type FactDeps = Pick<ProcessorDeps, 'operation' | 'bucket' | 'stats' | 'holds' | 'holdView' | 'hostHold' | 'retry' | 'blacklistRecheckMs' | 'log' | 'observer'>;

/** The quota is spent: slow the bucket, and tell a probe's hold the answer was no outage. */
async function throttled(deps: FactDeps, job: Job, failure: LiveCallFailure, probe: boolean, context: LogContext): Promise<void> {
  const { operation, bucket, stats, holds, log, observer } = deps;
  const rate = await bucket.onThrottled(failure.retryAfterMs);
  await Promise.all([stats.record(operation, 'throttled', false), probe ? holds.throttled(operation, job.id!) : undefined]);
  observer.throttled(operation);
  log.warn({ ...context, retryAfterMs: failure.retryAfterMs, rate }, 'throttled by the API; slowing the bucket');
}

/** Asks the operation's hold about a failure; says so when the hold trips, or a probe fails. */
async function askHold(deps: FactDeps, job: Job, failure: LiveCallFailure, question: Extract<Question, { ask: 'hold' }>, called: Called, hint: string | undefined): Promise<FailureVerdict> {
  const { operation, holds, holdView, log } = deps;
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
export async function gatherFacts(deps: FactDeps, job: Job, result: LiveCallSuccess | LiveCallFailure, called: Called): Promise<Facts> {
  const { operation, hostHold } = deps;
  const facts: Facts = {
    answer: { ok: true },
    probe: called.probe,
    attempt: called.attempt,
    maxAttempts: job.opts.attempts ?? 1,
    addsToBlacklist: called.addsToBlacklist,
    retry: deps.retry,
    jitter: 0,
    blacklistRecheckMs: deps.blacklistRecheckMs,
    now: 0,
  };
  if (!result.ok) {
    const classified = classifyFailure(result);
    const context = contextOf(operation, job, result, called.attempt);
    facts.answer = { ok: false, classification: classified, retryAfterMs: result.retryAfterMs };
    if (classified.throttled) await throttled(deps, job, result, called.probe, context);
    for (let question = nextQuestion(facts); question; question = nextQuestion(facts)) {
      // This host's credentials, signature or clock: this process first, the account only if the fault is wider.
      if (question.ask === 'host') facts.hostVerdict = await hostHold.failed(result.code, { ...context, hint: classified.hint }, called.localProbe);
      else facts.holdVerdict = await askHold(deps, job, result, question, called, classified.hint);
    }
  }
  return { ...facts, jitter: Math.random(), now: Date.now() };
}
