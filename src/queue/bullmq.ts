import { createRequire } from 'node:module';

/**
 * The BullMQ classes livequeue constructs, loaded with require().
 *
 * BullMQ is CommonJS whose entry re-exports every module of its own. For
 * `import { Queue } from 'bullmq'`, Node 22's ESM loader first reads and
 * scans each of those files for the names they export, then runs them:
 * measured here, about 60 ms of a 330 ms `livequeue status`. require() runs
 * them once. It is the same module either way (Node keeps one instance), so
 * the other files may still import BullMQ's types, or its classes, directly.
 */
const bullmq = createRequire(import.meta.url)('bullmq') as typeof import('bullmq');

export const Queue = bullmq.Queue;
export type Queue = import('bullmq').Queue;
export const Worker = bullmq.Worker;
export type Worker = import('bullmq').Worker;
export const DelayedError = bullmq.DelayedError;
export const WaitingError = bullmq.WaitingError;
