import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditRecordSchema } from '../../ledger/audit.ts';
import { parseStreamSubject, type Subject } from '../../jobs/targets.ts';
import '../context.ts';
import { errorBodySchema } from '../errors.ts';

const historyQuerySchema = z
  .object({
    stream: z.string().optional(),
    monitor: z.string().min(1).max(100).optional(),
  })
  .transform((query, ctx): Subject => {
    if ((query.stream === undefined) === (query.monitor === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['stream'], message: 'stream: give stream=DOMAIN/APP/STREAM or monitor=ID, one of the two' });
      return z.NEVER;
    }
    if (query.monitor !== undefined) return { monitorId: query.monitor.toLowerCase() };
    const subject = parseStreamSubject(query.stream!);
    if (typeof subject === 'string') {
      ctx.addIssue({ code: 'custom', path: ['stream'], message: `stream: ${subject}` });
      return z.NEVER;
    }
    return subject;
  });

const time = (name: string) =>
  z.string().refine((value) => !Number.isNaN(Date.parse(value)), `${name} must be an ISO 8601 time such as 2026-12-01T10:00:00Z`).transform((value) => Date.parse(value));

const auditQuerySchema = z.object({
  since: time('since').optional(),
  until: time('until').optional(),
  /** The id of the last record of the previous page (its `next`). */
  after: z.string().regex(/^\d{1,15}-\d{1,20}$/, 'after must be a record id (<ms>-<seq>), the `next` of the previous page').optional(),
  limit: z.coerce.number().int().min(1, 'limit must be 1 to 1000').max(1000, 'limit must be 1 to 1000').default(100),
});

const pageSchema = z.object({ records: z.array(auditRecordSchema), next: z.string().optional() });

/**
 * As `livequeue history` and `livequeue audit export`: GET /history?stream=D/A/S
 * (or ?monitor=ID) lists what happened to one subject, oldest first; GET /audit
 * pages the whole trail, oldest first, `next` leading to the following page.
 */
export function auditRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/history',
      { config: { scope: 'read' }, schema: { querystring: historyQuerySchema, response: { 200: z.object({ records: z.array(auditRecordSchema) }), 400: errorBodySchema } } },
      async (request) => ({ records: await request.runtime.audit.history(request.query) }),
    );
    app.get(
      '/audit',
      { config: { scope: 'read' }, schema: { querystring: auditQuerySchema, response: { 200: pageSchema, 400: errorBodySchema } } },
      async (request) => {
        const { since, until, after, limit } = request.query;
        const from = after ?? (since === undefined ? '0' : `${Math.max(0, since - 1)}-${Number.MAX_SAFE_INTEGER}`);
        const records = await request.runtime.audit.page(from, until, limit);
        return { records, ...(records.length === limit ? { next: records.at(-1)!.id } : {}) };
      },
    );
  };
}
