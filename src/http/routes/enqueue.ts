import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseParams, type FieldError } from '../../jobs/schemas.ts';
import { OPERATION_INFO, OPERATIONS, type Operation } from '../../catalog/operations.ts';
import { batchIdSchema, newBatchId } from '../../batches/batches.ts';
import { PRIORITIES } from '../../queue/job-options.ts';
import type { EnqueueRecord, EnqueueResult } from '../../intake/enqueue.ts';
import '../context.ts';
import { errorBodySchema, fieldErrorSchema } from '../errors.ts';
import { actFields, actorOf } from '../act.ts';

/** One addBulk round trip's worth; larger batches go in several requests. */
export const MAX_JOBS_PER_REQUEST = 1000;

/**
 * One job object, an array of them, or `{"batch": "name", "jobs": [...],
 * "reason": "...", "ticket": "..."}` to name the batch and say why. Each job is checked on its own below, so one bad job does
 * not hold back the others.
 */
const enqueueBodySchema = z.preprocess(
  (body) => {
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'jobs' in body) return body;
    return { jobs: Array.isArray(body) ? body : [body] };
  },
  z.strictObject({
    batch: batchIdSchema.optional(),
    ...actFields,
    jobs: z
      .array(z.unknown(), { error: 'jobs must be a list' })
      .min(1, 'send at least one job')
      .max(MAX_JOBS_PER_REQUEST, `send at most ${MAX_JOBS_PER_REQUEST} jobs per request`),
  }),
);

const prioritySchema = z.enum(PRIORITIES, { error: 'priority must be "urgent" or "normal"' }).default('normal');

const resultSchema = z.discriminatedUnion('status', [
  z.object({ index: z.number().int(), status: z.literal('enqueued'), jobId: z.string() }),
  /** The same stream or monitor is already pending under this id: nothing new was enqueued. */
  z.object({ index: z.number().int(), status: z.literal('duplicate'), jobId: z.string() }),
  z.object({ index: z.number().int(), status: z.literal('invalid'), errors: z.array(fieldErrorSchema) }),
]);

export const enqueueResponseSchema = z.object({
  /** The batch the enqueued jobs were recorded under (`livequeue batch show`, `GET /v1/batches/:id`). */
  batch: z.string(),
  /** The request's bans that add to the blacklist exceed its last known headroom. */
  blacklistWarning: z.object({ bans: z.number(), headroom: z.number(), wouldWait: z.number(), message: z.string() }).optional(),
  /** Only on a 400: some jobs were invalid (the valid ones were enqueued all the same). */
  error: z.literal('invalid-jobs').optional(),
  message: z.string().optional(),
  results: z.array(resultSchema),
  enqueued: z.number().int(),
  duplicates: z.number().int(),
  invalid: z.number().int(),
});
type EnqueueResponse = z.output<typeof enqueueResponseSchema>;

/**
 * A job is the operation's API parameters (the same schema as a line of an
 * input file) plus an optional lower-case `priority`, which can never clash
 * with an API parameter.
 */
function readJob(operation: Operation, job: unknown): EnqueueRecord | { errors: FieldError[] } {
  if (typeof job !== 'object' || job === null || Array.isArray(job) || !('priority' in job)) return { params: job };
  const { priority, ...params } = job as Record<string, unknown>;
  const parsedPriority = prioritySchema.safeParse(priority);
  if (parsedPriority.success) return { params, priority: parsedPriority.data };
  const parsedParams = parseParams(operation, params);
  return { errors: [{ field: 'priority', message: parsedPriority.error.issues[0]!.message }, ...(parsedParams.ok ? [] : parsedParams.errors)] };
}

/** Counts what an enqueue request did, for the server's metrics. */
export type EnqueueCounter = (account: string, operation: Operation, result: EnqueueResult['status'], count: number) => void;

export function enqueueRoutes(count: EnqueueCounter = () => {}): FastifyPluginAsyncZod {
  return async (app) => {
    for (const operation of OPERATIONS) {
      app.post(
        `/${OPERATION_INFO[operation].slug}`,
        { config: { scope: 'enqueue' }, schema: { body: enqueueBodySchema, response: { 202: enqueueResponseSchema, 400: enqueueResponseSchema.or(errorBodySchema), 409: errorBodySchema } } },
        async (request, reply) => {
          const { runtime } = request;
          const batch = request.body.batch ?? newBatchId();
          const jobs = request.body.jobs.map((job) => readJob(operation, job));
          const records = jobs.filter((job): job is EnqueueRecord => !('errors' in job));
          // A batch of another operation: 409 batch-conflict (http/errors.ts). A blacklist
          // warning comes in the answer, not as a refusal: the bans are enqueued and wait for room.
          const { results: enqueued, blacklistWarning } = await runtime.intake.enqueue(operation, records, batch, actorOf(request, request.body));
          let next = 0;
          const results = jobs.map((job, index): EnqueueResponse['results'][number] => {
            const result: EnqueueResult = 'errors' in job ? { status: 'invalid', errors: job.errors } : enqueued[next++]!;
            return { index, ...result };
          });
          const tally = (status: EnqueueResult['status']) => results.filter((r) => r.status === status).length;
          const body: EnqueueResponse = { batch, ...(blacklistWarning ? { blacklistWarning } : {}), results, enqueued: tally('enqueued'), duplicates: tally('duplicate'), invalid: tally('invalid') };
          for (const status of ['enqueued', 'duplicate', 'invalid'] as const) count(runtime.name, operation, status, tally(status));
          if (body.invalid === 0) return reply.code(202).send(body);
          return reply.code(400).send({
            error: 'invalid-jobs',
            message: `${body.invalid} of ${results.length} jobs are invalid (see results); the valid ones were enqueued`,
            ...body,
          });
        },
      );
    }
  };
}
