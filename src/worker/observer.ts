import type { Operation } from '../live/operations.ts';

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
}

export const NO_OBSERVER: WorkerObserver = { call() {}, outcome() {}, throttled() {} };
