import type { Queue } from 'bullmq';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import type { DeadLetterQueue } from '../ledger/dead-letter.ts';
import type { Logger } from '../log.ts';

/** How often every worker process looks for jobs left in the failed sets. */
export const FAILED_SWEEP_INTERVAL_MS = 60_000;

/**
 * Finishes the move of failed jobs to the dead-letter queue. The processor
 * dead-letters every failure it understands; a job still ends in BullMQ's
 * failed set when it stalled too often or the worker broke outside the
 * processor, and the worker's 'failed' handler moves it then. That handler
 * runs in the process, after the failure was written: a worker killed in
 * between leaves the job failed, and its id (one per stream) would block the
 * stream for good. So each worker process also sweeps the failed set of every
 * operation queue of its account at start and every minute. Moving one job
 * is safe from several processes at once (DeadLetterQueue.takeFailed: a lease
 * per job, the entry written before the job is removed).
 */
export class FailedSweep {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(
    private readonly deadLetters: DeadLetterQueue,
    private readonly queue: (operation: Operation) => Queue,
    private readonly log: Logger,
    private readonly operations: readonly Operation[] = OPERATIONS,
  ) {}

  /** Moves one failed job; true if this call moved it. */
  async settle(operation: Operation, id: string): Promise<boolean> {
    const move = await this.deadLetters.takeFailed(operation, id);
    if (!move.moved) return false;
    this.log.error({ jobId: id, operation, err: move.entry.message }, 'job failed outside the processor; dead-lettered');
    return true;
  }

  /** Moves every job in the failed sets now; returns how many this call moved. */
  sweep(): Promise<number> {
    // One sweep at a time per process: a slow one is not stacked upon.
    this.running ??= (async () => {
      let moved = 0;
      for (const operation of this.operations) {
        const ids = await this.queue(operation).getRanges(['failed'], 0, -1, true);
        for (const id of ids) if (await this.settle(operation, id)) moved++;
      }
      return moved;
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Sweeps now and every `intervalMs` until stop(). */
  start(intervalMs = FAILED_SWEEP_INTERVAL_MS): void {
    const run = () =>
      void this.sweep().catch((error: Error) => this.log.warn({ err: error.message }, 'could not sweep the failed jobs to the dead-letter queue; trying again in a minute'));
    run();
    this.timer = setInterval(run, intervalMs);
    this.timer.unref();
  }

  /** Stops sweeping. A sweep under way is not waited for: a job it has not removed stays failed for the next one. */
  stop(): void {
    clearInterval(this.timer);
  }
}
