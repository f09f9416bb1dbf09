import type { Job } from 'bullmq';
import { deadLetterEntry, type DeadLetterCause } from '../ledger/dead-letter-entry.ts';
import type { Counter } from '../ledger/stats.ts';
import type { ProcessorDeps } from './processor-deps.ts';
import { subjectOf } from '../jobs/targets.ts';

/**
 * How a job ends for good (applied, already applied, dead-lettered), and what
 * is recorded as it does: its counter, its outcome, its batch, and whether
 * its answer ends a hold.
 */

export type JobOutcome =
  | { outcome: 'applied'; requestId?: string }
  | { outcome: 'already-applied'; code: string; requestId?: string }
  | { outcome: 'dead-lettered'; code: string; requestId?: string };

/**
 * What a job's path made of the API: no call (invalid payload), a call that
 * failed for a reason not the job's, or a call answered about the job itself
 * (which proves the service and the account work, and so ends a hold).
 */
export type CallKind = 'none' | 'failed' | 'answered';

type EndingDeps = Pick<ProcessorDeps, 'operation' | 'stats' | 'outcomes' | 'audit' | 'holds' | 'holdView' | 'hostHold' | 'deadLetters' | 'onFinished' | 'log' | 'observer'>;

/** A real answer about the job arrived: the service, the account and this host's credentials work. */
export async function healthy(deps: Pick<ProcessorDeps, 'operation' | 'holds' | 'holdView' | 'hostHold' | 'log'>, job: Job): Promise<void> {
  const { operation, holds, holdView, hostHold, log } = deps;
  await hostHold.succeeded();
  const released = await holds.healthy(operation, job.id!);
  if (!released) return;
  holdView.invalidate();
  log.warn({ operation, reason: released.reason, heldForMs: Date.now() - released.since, failedCalls: released.count }, `${operation} hold released: a call succeeded again`);
}

/**
 * Keeps the final outcome queryable after the job leaves the queue, records
 * it in the audit trail, and logs it with the audit record's field names
 * (stream or monitorId, batch, outcome, code, requestId, attempts), plus
 * `extra` (latency, probe, reason).
 */
export async function finish(deps: EndingDeps, job: Job, result: JobOutcome, attempts: number, counter: Counter, call: CallKind, extra: Record<string, unknown> = {}, sentAt?: number): Promise<JobOutcome> {
  const { operation, stats, outcomes, audit, observer, log } = deps;
  const subject = subjectOf(operation, job.data);
  // The commands leave together: one round trip on every job's path. The
  // audit record goes before the batch's (onFinished), which ends the job's
  // tie to its batch: the record reads the batch from it.
  const [, , recorded] = await Promise.all([
    stats.record(operation, counter, call !== 'none', sentAt),
    outcomes.record({ jobId: job.id!, operation, attempts, finishedAt: Date.now(), ...result }),
    audit.outcome({ operation, subject, jobId: job.id!, attempts, ...result }),
    call === 'answered' ? healthy(deps, job) : undefined,
    result.outcome === 'dead-lettered' ? undefined : deps.onFinished(job.id!, job.data, result.outcome),
  ]);
  const line = { jobId: job.id, operation, ...subject, ...(recorded.batch ? { batch: recorded.batch } : {}), outcome: result.outcome, ...('code' in result ? { code: result.code } : {}), requestId: result.requestId, attempts, ...extra };
  if (result.outcome === 'dead-lettered') log.warn(line, 'dead-lettered');
  else log.info(line, result.outcome === 'applied' ? 'applied' : 'already applied');
  observer.outcome(operation, result.outcome, 'code' in result ? result.code : undefined);
  observer.finished(operation, result.outcome, Date.now() - job.timestamp);
  return result;
}

export async function deadLetter(deps: EndingDeps, job: Job, cause: DeadLetterCause, attempts: number, call: CallKind, sentAt?: number): Promise<JobOutcome> {
  const { operation, deadLetters } = deps;
  const now = Date.now();
  const entry = deadLetterEntry(
    { id: job.id!, operation, params: job.data, priority: job.opts.priority, progress: job.progress, attempts },
    cause,
    { lastFailedAt: now, unrecordedFirstFailure: now },
  );
  await deadLetters.add(entry);
  return finish(deps, job, { outcome: 'dead-lettered', code: cause.code, requestId: cause.requestId }, attempts, 'deadLettered', call, { reason: cause.reason }, sentAt);
}
