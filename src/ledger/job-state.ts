import type { Queue } from 'bullmq';
import { z } from 'zod';
import { OPERATIONS, operationFromSlug, type Operation } from '../catalog/operations.ts';
import { deadLetterEntrySchema, type DeadLetterQueue } from './dead-letter.ts';
import { PRIORITIES, priorityOf } from '../queue/job-options.ts';
import type { Outcomes } from './outcomes.ts';

/** States of a job still in its BullMQ queue ("failed" only for the moment before it is dead-lettered). */
export const QUEUED_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'failed'] as const;
export const FINISHED_STATES = ['applied', 'already-applied', 'dead-lettered'] as const;

/** Where a job is now, from wherever it can be found: its queue, its recorded outcome, the dead-letter queue. */
export const jobViewSchema = z.object({
  id: z.string(),
  operation: z.enum(OPERATIONS),
  state: z.enum([...QUEUED_STATES, ...FINISHED_STATES]),
  /** Attempts made so far; for a finished job, all of them. */
  attemptsMade: z.number().int().nonnegative(),
  /** Queued jobs: the priority it was enqueued with. */
  priority: z.enum(PRIORITIES).optional(),
  /** Queued jobs: what the worker recorded, e.g. the last transient failure before a retry. */
  progress: z.unknown().optional(),
  /** Finished jobs: the API's answer code ("already applied" and dead-lettered jobs). */
  code: z.string().optional(),
  requestId: z.string().optional(),
  finishedAt: z.number().optional(),
  /** Dead-lettered jobs: the entry, with the reason and the original parameters. */
  deadLetter: deadLetterEntrySchema.optional(),
});
export type JobView = z.output<typeof jobViewSchema>;

/** The operation a job id belongs to: ids start with the operation's slug (see names.ts). */
export function operationOfJobId(id: string): Operation | undefined {
  return operationFromSlug(id.slice(0, id.indexOf('.')));
}

export interface JobSources {
  queues: Record<Operation, Queue>;
  outcomes: Outcomes;
  deadLetters: DeadLetterQueue;
}

/**
 * Looks a job up in the order it moves: its queue (pending or running), then
 * its recorded outcome (finished jobs leave the queue), then the dead-letter
 * queue (whose entries outlive the outcome's TTL). A replayed job is back in
 * its queue, so the queue wins.
 */
export async function findJob(sources: JobSources, id: string): Promise<JobView | undefined> {
  const operation = operationOfJobId(id);
  if (!operation) return undefined;

  const job = await sources.queues[operation].getJob(id);
  const state = job ? await job.getState() : undefined;
  if (job && isQueuedState(state)) {
    return { id, operation, state, attemptsMade: job.attemptsMade, priority: priorityOf(job.opts.priority), progress: job.progress };
  }

  const [outcome, deadLetter] = await Promise.all([sources.outcomes.get(id), sources.deadLetters.list({ ids: [id] }).then((entries) => entries[0])]);
  if (outcome) {
    return {
      id,
      operation,
      state: outcome.outcome,
      attemptsMade: outcome.attempts,
      code: outcome.code,
      requestId: outcome.requestId,
      finishedAt: outcome.finishedAt,
      deadLetter: outcome.outcome === 'dead-lettered' ? deadLetter : undefined,
    };
  }
  if (deadLetter) {
    return { id, operation, state: 'dead-lettered', attemptsMade: deadLetter.attempts, code: deadLetter.code, requestId: deadLetter.requestId, finishedAt: deadLetter.lastFailedAt, deadLetter };
  }
  return undefined;
}

function isQueuedState(state: string | undefined): state is (typeof QUEUED_STATES)[number] {
  return (QUEUED_STATES as readonly (string | undefined)[]).includes(state);
}
