import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OPERATION_INFO, OPERATIONS, operationFromSlug, SLUG_CHOICES } from '../../catalog/operations.ts';
import { DURATION_RULE, parseDurationMs, rateOverrideProblem } from '../../ratelimit/rate-override.ts';
import '../context.ts';
import { errorBodySchema } from '../errors.ts';
import { actBodySchema, actFields, actorOf } from '../act.ts';

const paramsSchema = z.object({
  account: z.string().optional(),
  operation: z.enum(SLUG_CHOICES, { error: `operation must be one of ${SLUG_CHOICES.join(', ')}` }).transform((slug) => operationFromSlug(slug)!),
});
const setBodySchema = z.strictObject({
  rate: z.number({ error: 'rate must be a number of calls per second' }).positive('rate must be above 0'),
  for: z.string().refine((v) => parseDurationMs(v) !== undefined, `for must be ${DURATION_RULE}`).optional(),
  allowAboveConfig: z.boolean({ error: 'allowAboveConfig must be true or false' }).optional(),
  ...actFields,
});
const overrideSchema = z.object({ rate: z.number(), until: z.string().optional(), actor: z.string(), reason: z.string().optional() });
const answerSchema = z.object({ account: z.string(), operation: z.enum(OPERATIONS), configuredRate: z.number(), rateOverride: overrideSchema.nullable() });

const toAnswer = (o: { rate: number; until?: number; actor: string; reason?: string } | undefined) =>
  o ? { rate: o.rate, ...(o.until !== undefined ? { until: new Date(o.until).toISOString() } : {}), actor: o.actor, ...(o.reason ? { reason: o.reason } : {}) } : null;

/**
 * As `livequeue rate set|reset`: POST /rates/:operation {rate, for?, allowAboveConfig?}
 * and DELETE /rates/:operation ({} or {reason}). The answer names the
 * override now in place (null after a reset). A rate above the configured
 * one without allowAboveConfig is a 400 naming the field.
 */
export function rateRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    const errors = { 400: errorBodySchema, 404: errorBodySchema };
    app.post('/rates/:operation', { config: { scope: 'operate' }, schema: { params: paramsSchema, body: setBodySchema, response: { 200: answerSchema, ...errors } } }, async (request, reply) => {
      const { runtime, params: { operation }, body } = request;
      const configured = runtime.settings.qps[operation];
      const problem = rateOverrideProblem(body.rate, configured, body.allowAboveConfig === true, {
        rate: 'rate', allowAbove: '"allowAboveConfig": true', configured: `${OPERATION_INFO[operation].qpsVariable} of account ${runtime.name}`,
      });
      if (problem) return reply.code(400).send({ error: 'invalid-request', message: problem, errors: [{ field: 'rate', message: problem }] });
      const by = actorOf(request, body);
      const set = await runtime.bucket(operation).setOverride({ rate: body.rate, ...by }, body.for === undefined ? undefined : parseDurationMs(body.for));
      await runtime.audit.act({ act: 'rate', ...by, operation, counts: { rate: body.rate } });
      return { account: runtime.name, operation, configuredRate: configured, rateOverride: toAnswer(set) };
    });
    app.delete('/rates/:operation', { config: { scope: 'operate' }, schema: { params: paramsSchema, body: actBodySchema, response: { 200: answerSchema, ...errors } } }, async (request) => {
      const { runtime, params: { operation } } = request;
      await runtime.bucket(operation).resetOverride();
      await runtime.audit.act({ act: 'rate', ...actorOf(request, request.body), operation, counts: { reset: 1 } });
      return { account: runtime.name, operation, configuredRate: runtime.settings.qps[operation], rateOverride: null };
    });
  };
}
