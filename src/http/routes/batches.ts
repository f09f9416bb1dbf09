import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OPERATIONS, operationFromSlug, SLUG_CHOICES } from '../../catalog/operations.ts';
import { batchIdSchema } from '../../batches/batches.ts';
import '../context.ts';
import { errorBodySchema } from '../errors.ts';
import { actBodySchema, actFields, actorOf, actorSchema } from '../act.ts';

const paramsSchema = z.object({ account: z.string().optional(), id: batchIdSchema });
const int = z.number().int();

const countsSchema = z.object({
  batch: z.string(), operation: z.enum(OPERATIONS), createdAt: z.string(), by: actorSchema.optional(), undoBy: actorSchema.optional(), jobs: int,
  waiting: int, active: int, applied: int, alreadyApplied: int, deadLettered: int, cancelled: int, unknown: int, superseded: int,
  undone: int, undoPending: int, undoFailed: int, undoRequestedAt: z.string().optional(),
});
const cancelSchema = z.object({ batch: z.string(), cancelled: int, inFlight: int, untouched: int, superseded: int });
const undoSchema = cancelSchema.extend({ resumesEnqueued: int, undoneBefore: int, interruptOnly: int, alreadyApplied: int, supersededBans: int });
const cancelAllBodySchema = z.strictObject({
  all: z.literal(true, { error: 'all must be true: this route cancels every pending job of the account' }),
  confirm: z.number({ error: 'confirm must be the pending count you expect (GET it from a first call without confirm)' }).int().min(0).optional(),
  operation: z.enum(SLUG_CHOICES).optional(),
  ...actFields,
});
const cancelAllSchema = z.object({ cancelled: z.partialRecord(z.enum(OPERATIONS), int) });
const notConfirmedSchema = errorBodySchema.extend({ pending: int });

/**
 * As `livequeue batch show|cancel|undo`: GET /batches/:id, POST /batches/:id/cancel,
 * POST /batches/:id/undo, and POST /batches/cancel {all, confirm} for every pending job.
 * An unknown batch answers 404, one that cannot be undone or a count not confirmed 409 (http/errors.ts).
 */
export function batchRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    const errors = { 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema };
    app.get('/batches/:id', { config: { scope: 'read' }, schema: { params: paramsSchema, response: { 200: countsSchema, ...errors } } }, (request) => request.runtime.batches.show(request.params.id));
    app.post('/batches/:id/cancel', { config: { scope: 'operate' }, schema: { params: paramsSchema, body: actBodySchema, response: { 200: cancelSchema, ...errors } } }, (request) => request.runtime.batches.cancel(request.params.id, actorOf(request, request.body)));
    app.post('/batches/:id/undo', { config: { scope: 'operate' }, schema: { params: paramsSchema, body: actBodySchema, response: { 200: undoSchema, ...errors } } }, (request) => request.runtime.batches.undo(request.params.id, actorOf(request, request.body)));
    app.post('/batches/cancel', { config: { scope: 'operate' }, schema: { body: cancelAllBodySchema, response: { 200: cancelAllSchema, 400: errorBodySchema, 409: notConfirmedSchema } } }, (request) => {
      const { confirm, operation } = request.body;
      return request.runtime.batches.cancelAll(confirm, operation ? [operationFromSlug(operation)!] : undefined, actorOf(request, request.body));
    });
  };
}
