import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Queue } from 'bullmq';
import { JOB_ID_PATTERN, OPERATIONS, slugList, type Operation } from '../../catalog/operations.ts';
import { findJob, jobViewSchema } from '../../ledger/job-state.ts';
import '../context.ts';
import { errorBodySchema } from '../errors.ts';

const paramsSchema = z.object({
  /** Under /v1/accounts/:account; the account itself was resolved before validation. */
  account: z.string().optional(),
  id: z.string().regex(JOB_ID_PATTERN, `id must be a job id: <operation>.<account>.<hash or MonitorId>, the operation one of ${slugList()}`),
});

export function jobRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/jobs/:id',
      { config: { scope: 'read' }, schema: { params: paramsSchema, response: { 200: jobViewSchema, 400: errorBodySchema, 404: errorBodySchema } } },
      async (request, reply) => {
        const { runtime } = request;
        const queues = Object.fromEntries(OPERATIONS.map((op) => [op, runtime.queue(op)])) as Record<Operation, Queue>;
        const job = await findJob({ queues, outcomes: runtime.outcomes, deadLetters: runtime.deadLetters }, request.params.id);
        if (job) return reply.send(job);
        return reply.code(404).send({
          error: 'not-found',
          message: `no job ${request.params.id}: never enqueued, or finished more than ${runtime.config.outcomeTtlSeconds} s ago (OUTCOME_TTL_SECONDS)`,
        });
      },
    );
  };
}
