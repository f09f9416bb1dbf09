import type { Operation } from '../live/operations.ts';
import type { DeadLetterEntry } from './dead-letter.ts';
import { priorityOf } from './job-options.ts';

/**
 * Builds every dead-letter entry, from the processor (a failure it
 * understood) and from the failed-set sweep (a job that broke outside it), so
 * both describe a job the same way.
 */

/** The job as its queue holds it. */
export interface DeadJob {
  id: string;
  operation: Operation;
  /** The job's data as stored, valid or not. */
  params: unknown;
  /** BullMQ's priority number (undefined or 0: none). */
  priority: number | undefined;
  /** The job's progress, where the processor keeps when it first failed. */
  progress: unknown;
  attempts: number;
}

export type DeadLetterCause = Pick<DeadLetterEntry, 'reason' | 'code' | 'message' | 'httpStatus' | 'requestId'>;

/** When the job first failed, as the processor recorded it on the job across retries. */
export function recordedFirstFailure(progress: unknown): number | undefined {
  const recorded = (progress as { firstFailedAt?: unknown } | null | undefined)?.firstFailedAt;
  return typeof recorded === 'number' && Number.isFinite(recorded) && recorded > 0 ? recorded : undefined;
}

/**
 * `lastFailedAt`: when the job failed for good; `firstFailedAt` is the one
 * recorded on the job, else `unrecordedFirstFailure`.
 */
export function deadLetterEntry(job: DeadJob, cause: DeadLetterCause, times: { lastFailedAt: number; unrecordedFirstFailure: number }): DeadLetterEntry {
  return {
    id: job.id,
    operation: job.operation,
    params: job.params,
    priority: priorityOf(job.priority),
    attempts: job.attempts,
    firstFailedAt: recordedFirstFailure(job.progress) ?? times.unrecordedFirstFailure,
    lastFailedAt: times.lastFailedAt,
    ...cause,
  };
}
