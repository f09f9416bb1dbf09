import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { operationFromSlug, SLUG_CHOICES } from '../../catalog/operations.ts';
import { deadLetterEntrySchema, type DeadLetterFilter } from '../../ledger/dead-letter.ts';
import '../context.ts';
import { errorBodySchema } from '../errors.ts';
import { actFields, actorOf } from '../act.ts';
import { LivequeueError } from '../../errors.ts';

const operationSchema = z.enum(SLUG_CHOICES, { error: `operation must be one of ${SLUG_CHOICES.join(', ')}` }).transform((slug) => operationFromSlug(slug)!);

const listQuerySchema = z.object({
  operation: operationSchema.optional(),
  code: z.string().min(1).optional(),
  limit: z.coerce.number().int('limit must be a whole number').min(1, 'limit must be at least 1').max(1000, 'limit must be at most 1000').default(100),
  offset: z.coerce.number().int('offset must be a whole number').min(0, 'offset must be 0 or more').default(0),
});

/** The entries replay and purge act on: a filter, or `all: true` to mean everything (as `livequeue dlq replay|purge`). */
const filterFields = {
  operation: operationSchema.optional(),
  code: z.string().min(1, 'code must not be empty').optional(),
  ids: z.array(z.string().min(1)).min(1, 'ids must name at least one entry').max(1000, 'ids may name at most 1000 entries').optional(),
  all: z.literal(true, { error: 'all must be true when given' }).optional(),
  ...actFields,
};
const named = (b: { operation?: unknown; code?: unknown; ids?: unknown; all?: unknown }) => Boolean(b.operation || b.code || b.ids || b.all);
const namedMessage = (verb: string) => `name entries with operation, code or ids, or send "all": true to ${verb} every entry`;

/** Replay touches many entries at once: it needs a filter, or `all: true` to mean everything (as `livequeue dlq replay`). */
const replayBodySchema = z.strictObject(filterFields).refine(named, namedMessage('replay'));

/**
 * Purge deletes for good: the same filter as replay, and with `all: true` the
 * count of entries the caller expects to delete (`confirm`), as POST
 * /batches/cancel asks for the pending count.
 */
const purgeBodySchema = z
  .strictObject({
    ...filterFields,
    confirm: z.number({ error: 'confirm must be the number of entries you expect to purge (GET it from a first call without confirm)' }).int().min(0).optional(),
  })
  .refine(named, namedMessage('purge'))
  .refine((b) => b.confirm === undefined || b.all, { path: ['confirm'], message: 'confirm goes with "all": true' });

const purgeSchema = {
  operationId: 'purgeDeadLetters',
  summary: 'Delete dead-letter entries for good (as livequeue dlq purge); all: true needs confirm',
  tags: ['dead letters'],
  body: purgeBodySchema,
  response: { 200: z.object({ purged: z.number().int() }), 400: errorBodySchema, 409: errorBodySchema.extend({ entries: z.number().int() }) },
};

/** `all: true` without the right count: nothing was purged. */
export class PurgeAllNotConfirmedError extends LivequeueError {
  constructor(readonly entries: number, confirmed: number | undefined) {
    super(
      'purge-all-not-confirmed',
      confirmed === undefined
        ? `${entries} dead-letter entries match; to purge all of them, repeat with "confirm": ${entries}`
        : `${entries} dead-letter entries match now, more than the ${confirmed} confirmed; nothing was purged; repeat with "confirm": ${entries}`,
    );
  }

  override get httpFields(): Record<string, unknown> {
    return { entries: this.entries };
  }
}

export function dlqRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/dlq',
      { config: { scope: 'read' }, schema: { operationId: 'listDeadLetters', summary: 'Dead-letter entries, oldest first, a page at a time (as livequeue dlq list)', tags: ['dead letters'], querystring: listQuerySchema, response: { 200: z.object({ total: z.number().int(), entries: z.array(deadLetterEntrySchema), malformed: z.array(z.object({ id: z.string(), problem: z.string() })) }), 400: errorBodySchema } } },
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
          operationId: 'replayDeadLetters',
          summary: 'Put dead-letter entries back on their queues with fresh attempts (as livequeue dlq replay)',
          tags: ['dead letters'],
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

    app.post('/dlq/purge', { config: { scope: 'operate' }, schema: purgeSchema }, async (request) => {
      const { runtime } = request;
      const { operation, code, ids, all, confirm } = request.body;
      const filter: DeadLetterFilter = { operation, code, ids };
      if (all) {
        // The count the caller confirms is the count of what the filter matches (every entry, or an operation's: the index, O(1)).
        const entries = code || ids ? (await runtime.deadLetters.list(filter)).length : await runtime.deadLetters.count(operation);
        if (entries > 0 && (confirm === undefined || entries > confirm)) throw new PurgeAllNotConfirmedError(entries, confirm);
      }
      const purged = await runtime.deadLetters.purge(filter);
      await runtime.audit.act({ act: 'purge', ...actorOf(request, request.body), ...(operation ? { operation } : {}), counts: { purged } });
      return { purged };
    });
  };
}
