import type { Operation } from '../catalog/operations.ts';
import { BATCH_TTL_SECONDS } from '../jobs/batch-id.ts';
import { LivequeueError } from '../errors.ts';

/** What a batch command refuses, each with the message that says what to do instead. */

export class UnknownBatchError extends LivequeueError {
  constructor(readonly batch: string) {
    super('unknown-batch', `unknown batch "${batch}": no enqueue recorded it in this account (or it is older than ${BATCH_TTL_SECONDS / 86_400} days)`);
  }
}

export class BatchOperationMismatchError extends LivequeueError {
  constructor(batch: string, recorded: Operation, asked: Operation) {
    super('batch-operation-mismatch', `batch "${batch}" holds ${recorded} jobs; name another batch for ${asked}`);
  }
}

export class BatchNotUndoableError extends LivequeueError {
  constructor(batch: string, operation: Operation) {
    super(
      'batch-not-undoable',
      operation === 'StopLiveStreamMonitor'
        ? `batch "${batch}" stopped monitors, and a stopped monitor cannot be restarted through this API, so there is nothing to undo; \`livequeue batch cancel ${batch}\` stops the stops still pending`
        : `batch "${batch}" holds ${operation} jobs: only a batch of bans (ForbidLiveStream) can be undone`,
    );
  }
}

/** `--all` without the right count: nothing was removed. */
export class CancelAllNotConfirmedError extends LivequeueError {
  constructor(readonly pending: number, confirmed: number | undefined) {
    super(
      'cancel-all-not-confirmed',
      confirmed === undefined
        ? `${pending} jobs are pending in this account; to cancel all of them, repeat with --confirm ${pending}`
        : `${pending} jobs are pending now, more than the ${confirmed} confirmed; nothing was cancelled; repeat with --confirm ${pending}`,
    );
  }

  /** Over HTTP the count goes in the body's `confirm`. */
  override get httpMessage(): string {
    return this.message.replace('--confirm', '"confirm":');
  }

  override get httpFields(): Record<string, unknown> {
    return { pending: this.pending };
  }
}
