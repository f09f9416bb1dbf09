import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { operationFromSlug, SLUG_CHOICES } from '../../catalog/operations.ts';
import { deadLetterEntrySchema, type DeadLetterFilter } from '../../ledger/dead-letter.ts';
import '../context.ts';
import { errorBodySchema } from '../errors.ts';
import { actFields, actorOf } from '../act.ts';

const operationSchema = z.enum(SLUG_CHOICES, { error: `operation must be one of ${SLUG_CHOICES.join(', ')}` }).transform((slug) => operationFromSlug(slug)!);

const listQuerySchema = z.object({
  operation: operationSchema.optional(),
  code: z.string().min(1).optional(),
  limit: z.coerce.number().int('limit must be a whole number').min(1, 'limit must be at least 1').max(1000, 'limit must be at most 1000').default(100),
  offset: z.coerce.number().int('offset must be a whole number').min(0, 'offset must be 0 or more').default(0),
});

/** Replay touches many entries at once: it needs a filter, or `all: true` to mean everything (as `livequeue dlq replay`). */
const replayBodySchema = z
  .strictObject({
    operation: operationSchema.optional(),
    code: z.string().min(1, 'code must not be empty').optional(),
    ids: z.array(z.string().min(1)).min(1, 'ids must name at least one entry').max(1000, 'ids may name at most 1000 entries').optional(),
    all: z.literal(true, { error: 'all must be true when given' }).optional(),
    ...actFields,
  })
  .refine((b) => b.operation || b.code || b.ids || b.all, 'name entries with operation, code or ids, or send "all": true to replay every entry');

export function dlqRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/dlq',
      { config: { scope: 'read' }, schema: { querystring: listQuerySchema, response: { 200: z.object({ total: z.number().int(), entries: z.array(deadLetterEntrySchema), malformed: z.array(z.object({ id: z.string(), problem: z.string() })) }), 400: errorBodySchema } } },
      async (request) => {
        const { operation, code, limit, offset } = request.query;
        return request.runtime.deadLetters.page({ operation, code }, offset, limit);
      },
    );

    app.post(
      '/dlq/replay',
      {
        config: { scope: 'operate' },
        schema: {
          body: replayBodySchema,
          // alreadyQueued: entries left in the dead set because a job of the same id is queued again (it does the work).
          response: { 200: z.object({ replayed: z.number().int(), alreadyQueued: z.array(z.string()) }), 400: errorBodySchema },
        },
      },
      async (request) => {
        const { operation, code, ids } = request.body;
        const filter: DeadLetterFilter = { operation, code, ids };
        const result = await request.runtime.deadLetters.replayEntries(filter, request.runtime.config.retry);
        await request.runtime.audit.act({ act: 'replay', ...actorOf(request, request.body), counts: { replayed: result.replayed, alreadyQueued: result.alreadyQueued.length } });
        return result;
      },
    );
  };
}
