import { z } from 'zod';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import { priorityOf, PRIORITIES } from '../queue/job-options.ts';

/** Why a job was dead-lettered. */
export const DEAD_LETTER_REASONS = ['terminal', 'retries-exhausted', 'invalid-payload', 'worker-failure'] as const;

export const deadLetterEntrySchema = z.object({
  id: z.string(),
  operation: z.enum(OPERATIONS),
  /** The job's data as it was stored, valid or not. */
  params: z.unknown(),
  priority: z.enum(PRIORITIES),
  reason: z.enum(DEAD_LETTER_REASONS),
  code: z.string(),
  message: z.string(),
  httpStatus: z.number().optional(),
  requestId: z.string().optional(),
  attempts: z.number().int().nonnegative(),
  firstFailedAt: z.number(),
  lastFailedAt: z.number(),
});
export type DeadLetterEntry = z.output<typeof deadLetterEntrySchema>;

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

/** A stored entry that is not a valid entry (written by hand, or by something else), and what is wrong with it. */
export interface MalformedEntry {
  id: string;
  problem: string;
}

/** Reads an entry back from the dead set's job that holds it. */
export function entryOf(job: { id?: string | undefined; data: unknown }): DeadLetterEntry | MalformedEntry {
  const parsed = deadLetterEntrySchema.safeParse(job.data);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  return { id: job.id ?? '?', problem: `${issue.path.join('.') || '(entry)'}: ${issue.message}` };
}
