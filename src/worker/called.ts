import type { Job } from 'bullmq';
import type { LiveCallFailure } from '../live/client.ts';
import type { Operation } from '../catalog/operations.ts';

/** What the processor knows of a job's call once it was made. */
export interface Called {
  /** The job's parameters, as validated. */
  params: unknown;
  attempt: number;
  addsToBlacklist: boolean;
  /** The call was the operation's probe (it may have become one while waiting for its slot). */
  probe: boolean;
  /** The call was this process's probe of its own hold. */
  localProbe: boolean;
  /** When the call went out (performance.now()): calls are counted in the second they were sent. */
  sentAt: number;
}

export type LogContext = ReturnType<typeof contextOf>;

/** What every log line about a failed call names. */
export function contextOf(operation: Operation, job: Job, failure: LiveCallFailure, attempt: number) {
  return { jobId: job.id, operation, code: failure.code, requestId: failure.requestId, attempt, latencyMs: Math.round(failure.latencyMs) };
}
