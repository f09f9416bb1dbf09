import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OPERATIONS } from '../../catalog/operations.ts';
import { PER_SECOND_WINDOW } from '../../ledger/stats.ts';
import { errorBodySchema } from '../errors.ts';
import '../context.ts';

const querySchema = z.object({
  seconds: z.coerce
    .number({ error: 'seconds must be a number' })
    .int('seconds must be a whole number')
    .min(1, 'seconds must be at least 1')
    .max(PER_SECOND_WINDOW, `seconds must be at most ${PER_SECOND_WINDOW} (15 minutes are kept)`)
    .default(PER_SECOND_WINDOW),
});

const callsSchema = z.object({
  account: z.string(),
  operations: z.array(
    z.object({
      operation: z.enum(OPERATIONS),
      /** The account's configured calls per second for the operation: the chart's quota line. */
      quota: z.number(),
      /** [epoch second, calls] for every second, oldest first, the last one the current (still counting). */
      series: z.array(z.tuple([z.number().int(), z.number().int()])),
    }),
  ),
});

/**
 * GET /calls?seconds=: the API calls of each operation in each of the last
 * seconds (at most 15 minutes, all workers together), as the workers counted
 * them (ledger/stats.lua), so a chart has its history the moment it loads.
 */
export function callsRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/calls', { config: { scope: 'read' }, schema: { operationId: 'getCallsPerSecond', summary: 'API calls per second of each operation over the last 15 minutes, with its quota', tags: ['status'], querystring: querySchema, response: { 200: callsSchema, 400: errorBodySchema, 404: errorBodySchema } } }, async (request) => {
      const { runtime } = request;
      const operations = await Promise.all(
        OPERATIONS.map(async (operation) => ({ operation, quota: runtime.settings.qps[operation], series: await runtime.stats.perSecond(operation, request.query.seconds) })),
      );
      return { account: runtime.name, operations };
    });
  };
}
