import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Queue } from 'bullmq';
import { OPERATIONS, type Operation } from '../../live/operations.ts';
import { findJob, jobViewSchema } from '../../queue/job-state.ts';
import type { ApiContext } from '../context.ts';
import { errorBodySchema } from '../errors.ts';

const paramsSchema = z.object({
  id: z.string().regex(/^(forbid|stop-monitor)\.[A-Za-z0-9_.-]+$/, 'id must be a job id: forbid.<account>.<hash> or stop-monitor.<account>.<MonitorId>'),
});

export function jobRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  const queues = Object.fromEntries(OPERATIONS.map((op) => [op, ctx.producer.queue(op)])) as Record<Operation, Queue>;
  return async (app) => {
    app.get(
      '/v1/jobs/:id',
      { schema: { params: paramsSchema, response: { 200: jobViewSchema, 400: errorBodySchema, 404: errorBodySchema } } },
      async (request, reply) => {
        const job = await findJob({ queues, outcomes: ctx.outcomes, deadLetters: ctx.deadLetters }, request.params.id);
        if (job) return reply.send(job);
        return reply.code(404).send({
          error: 'not-found',
          message: `no job ${request.params.id}: never enqueued, or finished more than ${ctx.config.outcomeTtlSeconds} s ago (OUTCOME_TTL_SECONDS)`,
        });
      },
    );
  };
}
