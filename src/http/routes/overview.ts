import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OPERATIONS } from '../../catalog/operations.ts';
import { deadLettersByCode } from '../../ledger/dead-letter-codes.ts';
import type { ApiContext } from '../context.ts';
import { errorBodySchema } from '../errors.ts';
import { operationStatusSchema } from './status.ts';

const int = z.number().int();

const overviewSchema = z.object({
  account: z.string(),
  /** Every account of the deployment: /v1/accounts/:account/overview reads another. */
  accounts: z.array(z.string()),
  /** When the reads began. */
  at: z.string(),
  /** The account's status rows, as GET /status and `livequeue status --json` give them. */
  operations: z.array(operationStatusSchema),
  deadLetters: z.object({ total: int, byCode: z.array(z.object({ operation: z.enum(OPERATIONS), code: z.string(), count: int })), partial: z.boolean() }),
});

/**
 * GET /overview: what the status page refreshes every 2 s: the account's
 * status rows (as `livequeue status --json`) and its dead letters by code.
 */
export function overviewRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/overview', { config: { scope: 'read' }, schema: { operationId: 'getOverview', summary: 'The status page\'s refresh: status rows (as livequeue status --json) and dead letters by code', tags: ['status'], response: { 200: overviewSchema, 404: errorBodySchema } } }, async (request) => {
      const { runtime } = request;
      // When the reads began: everything below is at least this recent.
      const at = new Date().toISOString();
      const [rows, deadLetters] = await Promise.all([runtime.status(), deadLettersByCode(runtime.deadLetters)]);
      return { account: runtime.name, accounts: [...ctx.runtimes.keys()], at, operations: rows, deadLetters };
    });
  };
}
