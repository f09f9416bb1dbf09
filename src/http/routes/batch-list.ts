import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OPERATIONS } from '../../catalog/operations.ts';
import { BATCH_TTL_SECONDS } from '../../jobs/batch-id.ts';
import { actorSchema } from '../act.ts';
import { errorBodySchema } from '../errors.ts';
import '../context.ts';

const DAY_MS = 86_400_000;
const int = z.number().int();

const querySchema = z.object({
  since: z.iso.datetime({ offset: true, error: 'since must be an ISO 8601 time, e.g. 2026-12-03T09:30:00Z' }).optional(),
  limit: z.coerce.number().int('limit must be a whole number').min(1, 'limit must be at least 1').max(1000, 'limit must be at most 1000').default(200),
});

const recentSchema = z.object({
  batch: z.string(), operation: z.enum(OPERATIONS), createdAt: z.string(), by: actorSchema.optional(), undoBy: actorSchema.optional(),
  undoRequestedAt: z.string().optional(), doneAt: z.string().optional(),
  jobs: int, applied: int, alreadyApplied: int, deadLettered: int, cancelled: int, pending: int, appliedBans: int, undoClaimed: int,
});

/**
 * GET /batches?since=&limit=: the account's batches created since `since`
 * (the last 24 hours by default; batches are kept BATCH_TTL_SECONDS), newest
 * first, with who made them and how far they got, from counters: as cheap
 * for a batch of 100,000 jobs as for one. GET /batches/:id has the full count.
 */
export function batchListRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/batches', { config: { scope: 'read' }, schema: { operationId: 'listRecentBatches', summary: 'Batches created since a time (24 h by default), newest first, with actor and progress', tags: ['batches'], querystring: querySchema, response: { 200: z.object({ batches: z.array(recentSchema) }), 400: errorBodySchema, 404: errorBodySchema } } }, async (request) => {
      const { since, limit } = request.query;
      const sinceMs = since ? Date.parse(since) : Date.now() - DAY_MS;
      const oldest = Date.now() - BATCH_TTL_SECONDS * 1000;
      return { batches: await request.runtime.batches.recent(Math.max(sinceMs, oldest), limit) };
    });
  };
}
