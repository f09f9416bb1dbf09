import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HOLD_REASONS } from '../../catalog/error-codes.ts';
import { OPERATION_INFO, OPERATIONS, operationFromSlug, SLUG_CHOICES } from '../../catalog/operations.ts';
import '../context.ts';
import { errorBodySchema } from '../errors.ts';
import { actBodySchema, actFields, actorOf } from '../act.ts';

const paramsSchema = z.object({
  /** Under /v1/accounts/:account; the account itself was resolved before validation. */
  account: z.string().optional(),
  operation: z.enum(SLUG_CHOICES, { error: `operation must be one of ${SLUG_CHOICES.join(', ')}` }),
});

/** A pause says why: the reason is the hold's message, which `status` shows to whoever wonders why nothing runs. */
const pauseBodySchema = z.strictObject({
  ...actFields,
  reason: z
    .string({ error: 'reason is required: say why the operation is paused (status shows it as the hold\'s message)' })
    .trim()
    .min(1, 'reason must not be empty')
    .max(500, 'reason must be at most 500 characters'),
});

const pausedSchema = z.object({ account: z.string(), operation: z.enum(OPERATIONS), paused: z.literal(true) });
const resumedSchema = z.object({
  account: z.string(),
  operation: z.enum(OPERATIONS),
  /** The hold that was in place, or null when none was. */
  lifted: z.object({ reason: z.enum(HOLD_REASONS), code: z.string(), message: z.string(), since: z.string() }).nullable(),
  /** Bans held for a full blacklist that went back to their queue (0 for other operations). */
  releasedBans: z.number().int(),
});

const errors = { 400: errorBodySchema, 404: errorBodySchema };

/**
 * As `livequeue pause|resume <operation>`: POST /holds/:operation/pause holds
 * the operation by hand (no worker calls it until resumed, jobs wait without
 * using attempts); POST /holds/:operation/resume lifts every hold on it at once
 * (systemic, credentials, account, manual, and for bans the full-blacklist hold).
 */
export function holdRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/holds/:operation/pause',
      {
        config: { scope: 'operate' },
        schema: {
          operationId: 'pauseOperation',
          summary: 'Hold an operation by hand until it is resumed (as livequeue pause)',
          tags: ['holds'],
          params: paramsSchema,
          body: pauseBodySchema,
          response: { 200: pausedSchema, ...errors },
        },
      },
      async (request) => {
        const { runtime } = request;
        const operation = operationFromSlug(request.params.operation)!;
        const by = actorOf(request, request.body);
        await runtime.holds.pause(operation, request.body.reason);
        await runtime.audit.act({ act: 'pause', ...by, operation });
        return { account: runtime.name, operation, paused: true as const };
      },
    );
    app.post(
      '/holds/:operation/resume',
      {
        config: { scope: 'operate' },
        schema: {
          operationId: 'resumeOperation',
          summary: 'Lift every hold on an operation at once (as livequeue resume)',
          tags: ['holds'],
          params: paramsSchema,
          body: actBodySchema,
          response: { 200: resumedSchema, ...errors },
        },
      },
      async (request) => {
        const { runtime } = request;
        const operation = operationFromSlug(request.params.operation)!;
        const { hold, releasedBans } = await runtime.holds.resume(operation);
        await runtime.audit.act({ act: 'resume', ...actorOf(request, request.body), operation, counts: { releasedBans } });
        return {
          account: runtime.name,
          operation,
          lifted: hold ? { reason: hold.reason, code: hold.code, message: hold.message, since: new Date(hold.since).toISOString() } : null,
          releasedBans: OPERATION_INFO[operation].addsToBlacklist ? releasedBans : 0,
        };
      },
    );
  };
}
