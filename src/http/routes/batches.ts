import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OPERATIONS } from '../../live/operations.ts';
import { batchIdSchema, UnknownBatchError } from '../../queue/batches.ts';
import '../context.ts';
import { errorBodySchema } from '../errors.ts';

const paramsSchema = z.object({ account: z.string().optional(), id: batchIdSchema });

const countsSchema = z.object({
  batch: z.string(), operation: z.enum(OPERATIONS), createdAt: z.string(), jobs: z.number().int(),
  waiting: z.number().int(), active: z.number().int(), applied: z.number().int(), alreadyApplied: z.number().int(),
  deadLettered: z.number().int(), cancelled: z.number().int(), unknown: z.number().int(),
});
const cancelSchema = z.object({ batch: z.string(), cancelled: z.number().int(), inFlight: z.number().int(), untouched: z.number().int() });

/** GET /batches/:id and POST /batches/:id/cancel, as `livequeue batch show|cancel`. */
export function batchRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    const notFound = (error: unknown) => {
      if (error instanceof UnknownBatchError) return { error: 'not-found', message: error.message };
      throw error;
    };
    app.get('/batches/:id', { schema: { params: paramsSchema, response: { 200: countsSchema, 400: errorBodySchema, 404: errorBodySchema } } }, async (request, reply) => {
      try {
        return await request.runtime.batches.show(request.params.id);
      } catch (error) {
        return reply.code(404).send(notFound(error));
      }
    });
    app.post('/batches/:id/cancel', { schema: { params: paramsSchema, response: { 200: cancelSchema, 400: errorBodySchema, 404: errorBodySchema } } }, async (request, reply) => {
      try {
        return await request.runtime.batches.cancel(request.params.id);
      } catch (error) {
        return reply.code(404).send(notFound(error));
      }
    });
  };
}
