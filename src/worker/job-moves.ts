import type { Job } from 'bullmq';
import { DelayedError, WaitingError, Worker } from '../queue/bullmq.ts';
import type { ProcessorDeps } from './processor-deps.ts';

/**
 * Moving a job out of the worker without using an attempt: delayed, back to
 * waiting, or behind the operation's gate. Each move throws the error that
 * tells BullMQ the job was moved by hand, so every one returns `never`.
 */

/** Bookkeeping kept on the job (as its progress) between attempts. */
export interface JobProgress {
  firstFailedAt?: number;
  lastFailedAt?: number;
  lastCode?: string;
  /** Why the job is waiting without having used an attempt. */
  heldFor?: 'blacklist';
}

/** Why a job goes back to waiting while this process holds itself. */
export const HOST_HELD = 'this process holds itself: left for another process';

/** Puts the job back to wait until `until` without using an attempt. */
export async function delay(job: Job, token: string | undefined, until: number, progress: JobProgress): Promise<never> {
  await job.updateProgress({ ...(job.progress as JobProgress | undefined), ...progress } as object);
  await job.moveToDelayed(until, token);
  throw new DelayedError();
}

/**
 * Back to the queue, unchanged and without using an attempt, behind the
 * queue-wide gate: no worker takes the operation's jobs until `ms` have
 * passed (the next probe) or the hold is released.
 */
export async function waitForHold(deps: Pick<ProcessorDeps, 'operation' | 'holds'>, ms: number): Promise<never> {
  await deps.holds.closeGate(deps.operation, ms);
  throw Worker.RateLimitError();
}

/**
 * Back to the front of its priority in the queue, unchanged and without
 * using an attempt: so that this worker's free place fetches an urgent job
 * (Pacer.giveWay), or so that another process takes it while this one holds
 * itself (HostHold).
 */
export async function backToWaiting(deps: Pick<ProcessorDeps, 'operation' | 'log'>, job: Job, token: string | undefined, why: string): Promise<never> {
  await job.moveToWait(token);
  deps.log.debug({ jobId: job.id, operation: deps.operation }, why);
  throw new WaitingError();
}

/**
 * Waits for the blacklist re-check. `resume forbid` may have released the
 * hold while this job decided to wait (from a cached view, or mid-move) and
 * read the delayed set before the job landed in it: the job then sees the
 * hold gone and releases itself, instead of waiting for the re-check.
 */
export async function delayForBlacklist(deps: Pick<ProcessorDeps, 'holds' | 'holdView'>, job: Job, token: string | undefined, until: number): Promise<never> {
  const { holds, holdView } = deps;
  await job.updateProgress({ ...(job.progress as JobProgress | undefined), heldFor: 'blacklist' } as object);
  await job.moveToDelayed(until, token);
  if (!(await holds.blacklistHold())) {
    holdView.invalidate();
    // Taken or finished by now means it is no longer held: nothing to do.
    await job.promote().catch(() => undefined);
  }
  throw new DelayedError();
}
