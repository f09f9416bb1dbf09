import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HOLD_REASONS } from '../../catalog/error-codes.ts';
import { OPERATIONS } from '../../catalog/operations.ts';
import { deadLettersByCode } from '../../ledger/dead-letter-codes.ts';
import type { ApiContext } from '../context.ts';
import { errorBodySchema } from '../errors.ts';

const int = z.number().int();

/** The part of a `livequeue status --json` row the status page shows (ledger/status.ts); other fields are left out. */
const rowSchema = z.object({
  operation: z.enum(OPERATIONS),
  waiting: int,
  delayed: int,
  active: int,
  applied: int,
  alreadyApplied: int,
  retried: int,
  throttled: int,
  deadLettered: int,
  configuredRate: z.number(),
  currentRate: z.number(),
  callsLastMinute: int,
  oldestWaitingAgeSeconds: z.number(),
  hold: z
    .object({ reason: z.enum(HOLD_REASONS), since: z.string(), code: z.string(), message: z.string(), target: z.string(), calls: int, nextProbeAt: z.string().nullable(), until: z.string().optional(), resume: z.string() })
    .nullable(),
  heldProcesses: z.array(z.object({ process: z.string(), code: z.string(), since: z.string() })),
  blacklist: z.object({ cap: int, entries: int, headroom: int, permanentBans: int, checkedAt: z.string() }).nullable().optional(),
});

const overviewSchema = z.object({
  account: z.string(),
  /** Every account of the deployment: /v1/accounts/:account/overview reads another. */
  accounts: z.array(z.string()),
  /** When the reads began. */
  at: z.string(),
  operations: z.array(rowSchema),
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
      const operations = rows.map((row) => ({ ...row, oldestWaitingAgeSeconds: row.oldestWaitingAgeSeconds ?? 0 }));
      return { account: runtime.name, accounts: [...ctx.runtimes.keys()], at, operations, deadLetters };
    });
  };
}
