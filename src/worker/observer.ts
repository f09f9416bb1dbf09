import type { Operation } from '../catalog/operations.ts';

/**
 * What a worker reports as it goes, for metrics. The processor calls these
 * synchronously; implementations must be cheap and must not throw.
 */
export interface WorkerObserver {
  /** One API call answered (or failed on the network): `code` is 'OK' or the error code. */
  call(operation: Operation, code: string, latencyMs: number): void;
  /** How a job attempt ended. */
  outcome(operation: Operation, outcome: 'applied' | 'already-applied' | 'dead-lettered' | 'retry', code?: string): void;
  /** The API answered Throttling: something else shares the account's quota. */
  throttled(operation: Operation): void;
  /** How long a call waited for its slot in the token bucket. */
  slotWait(operation: Operation, ms: number): void;
  /** A call that could not leave on time for its slot was not sent (it takes the next one). */
  missedSlot(operation: Operation): void;
  /** A job ended (applied, already applied, dead-lettered) this long after it was enqueued. */
  finished(operation: Operation, outcome: 'applied' | 'already-applied' | 'dead-lettered', sinceEnqueueMs: number): void;
  /** This process holds itself (its credentials, signature or clock fail: worker/host-hold.ts), or no longer does. */
  hostHeld(held: boolean): void;
}

export const NO_OBSERVER: WorkerObserver = { call() {}, outcome() {}, throttled() {}, slotWait() {}, missedSlot() {}, finished() {}, hostHeld() {} };
