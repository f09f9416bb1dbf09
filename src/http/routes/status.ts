import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HOLD_REASONS } from '../../catalog/error-codes.ts';
import { OPERATIONS } from '../../catalog/operations.ts';
import type { OperationStatus } from '../../ledger/status.ts';
import { webhookStatus } from '../../webhooks/dead-deliveries.ts';
import '../context.ts';
import { errorBodySchema } from '../errors.ts';

const int = z.number().int();

/**
 * One row of `livequeue status --json` (ledger/status.ts), typed against
 * OperationStatus. Loose: a field status gains goes out before it is written
 * here (the OpenAPI test checks the document names every field a row has).
 */
export const operationStatusSchema: z.ZodType<OperationStatus> = z.looseObject({
  account: z.string(),
  operation: z.enum(OPERATIONS),
  waiting: int,
  delayed: int,
  active: int,
  applied: int,
  alreadyApplied: int,
  retried: int,
  throttled: int,
  deadLettered: int.describe('entries now in the dead-letter queue'),
  configuredRate: z.number(),
  currentRate: z.number(),
  rateOverride: z
    .object({ rate: z.number(), until: z.string().optional(), actor: z.string(), reason: z.string().optional() })
    .optional()
    .describe('an operator\'s rate in place of the configured one (livequeue rate set, POST /v1/rates/:operation)'),
  callsLastMinute: int,
  oldestWaitingAgeSeconds: z.number().optional().describe('seconds since the oldest job waiting for a worker was enqueued, 0 when none waits'),
  hold: z
    .object({
      reason: z.enum(HOLD_REASONS),
      since: z.string(),
      code: z.string(),
      message: z.string(),
      target: z.string(),
      calls: int,
      nextProbeAt: z.string().nullable(),
      until: z.string().optional(),
      resume: z.string().describe('the command that lifts it (POST /v1/holds/:operation/resume over HTTP)'),
    })
    .nullable()
    .describe('why the operation (or part of it) is held; null when it runs freely'),
  heldProcesses: z.array(z.object({ process: z.string(), host: z.string(), pid: int, code: z.string(), since: z.string(), lastSeen: z.string() })),
  blacklist: z
    .object({ cap: int, entries: int, headroom: int, permanentBans: int, checkedAt: z.string() })
    .nullable()
    .optional()
    .describe('for bans only: the blacklist as last read, null if never read'),
  webhooks: z.array(z.object({ endpoint: z.string(), failed: int, waiting: int, delayed: int, active: int })).optional(),
  redisMaxmemoryPolicy: z.string(),
});

/**
 * GET /status: what `livequeue status --json` prints for the account, one row
 * per operation (queue depths, outcomes, the bucket's rate, holds, held
 * processes, the blacklist, and the webhook endpoints' failed deliveries).
 */
export function statusRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/status',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getStatus',
          summary: 'Per operation: queue depths, outcomes, rate, holds (as livequeue status --json)',
          tags: ['status'],
          response: { 200: z.array(operationStatusSchema), 404: errorBodySchema },
        },
      },
      async (request) => {
        const { runtime } = request;
        const rows = await runtime.status();
        const endpoints = runtime.config.webhooks.endpoints;
        if (endpoints.length > 0) {
          const hooks = await webhookStatus(runtime, endpoints);
          for (const row of rows) row.webhooks = hooks;
        }
        return rows;
      },
    );
  };
}
