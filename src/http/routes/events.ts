import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { OPERATIONS, slugList } from '../../catalog/operations.ts';
import { batchIdSchema } from '../../batches/batches.ts';
import type { AuditRecord, AuditTrail } from '../../ledger/audit.ts';
import { followTrail, isEvent, type FollowFilter } from '../../ledger/audit-follow.ts';
import { blockingConnection, type RedisClient } from '../../redis.ts';
import type { AccountRuntime } from '../../app/runtime.ts';
import '../context.ts';

/** A stream id (`<ms>-<seq>`), as SSE hands back in Last-Event-ID. */
const STREAM_ID = /^\d{1,15}-\d{1,20}$/;

const querySchema = z.object({
  /** Another account of the deployment than the path's (as /v1/accounts/:account/events). */
  account: z.string().min(1).optional(),
  batch: batchIdSchema.optional(),
  operation: z.enum(OPERATIONS, { error: `operation must be one of ${OPERATIONS.join(', ')}` }).optional(),
  /** Instead of a Last-Event-ID header (an EventSource cannot set one on its first connection). */
  after: z.string().regex(STREAM_ID, 'after must be an event id (<ms>-<seq>)').optional(),
});

/** The SSE event a record becomes, or none. */
function eventOf(record: AuditRecord, filter: FollowFilter): string {
  if (!isEvent(record, filter)) return '';
  const { kind, ...data } = record;
  return `id: ${record.id}\nevent: ${kind === 'outcome' ? 'outcome' : 'batch.done'}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * GET /events: job outcomes and `batch.done` as Server-Sent Events, read from
 * the account's audit trail. A client that reconnects with Last-Event-ID (or
 * ?after=) gets every event after it, within AUDIT_RETENTION_DAYS; a new one
 * gets the events from now on. Each client reads with a connection of its own,
 * closed with the response.
 */
export function eventRoutes(accountNamed: (name: string) => AccountRuntime): FastifyPluginAsyncZod {
  return async (app) => {
    const open = new Set<() => void>();
    app.addHook('onClose', async () => {
      for (const close of open) close();
    });
    app.get(
      '/events',
      { config: { scope: 'read' }, schema: { querystring: querySchema } },
      async (request, reply) => {
        // An unknown account is a 404 before the stream starts (UnknownAccountError).
        const runtime = request.query.account === undefined ? request.runtime : accountNamed(request.query.account);
        const header = request.headers['last-event-id'];
        const lastId = typeof header === 'string' && STREAM_ID.test(header) ? header : request.query.after;
        const redis = blockingConnection(runtime.redis);
        redis.on('error', () => {
          // The stream ends below; the client reconnects with its Last-Event-ID.
        });
        let stopped = false;
        const stop = () => {
          stopped = true;
          redis.disconnect();
          open.delete(stop);
          reply.raw.end();
        };
        open.add(stop);
        request.raw.on('close', stop);
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        reply.raw.write(`retry: 2000\n: ${runtime.name} events, ${request.query.batch ? `batch ${request.query.batch}` : 'every batch'}, ${request.query.operation ?? slugList()}\n\n`);
        void pump(redis, runtime.audit, lastId, request.query, reply, () => stopped).finally(stop);
      },
    );
  };
}

async function pump(redis: RedisClient, trail: AuditTrail, from: string | undefined, filter: FollowFilter, reply: FastifyReply, stopped: () => boolean): Promise<void> {
  try {
    for await (const page of followTrail(redis, trail, from, stopped)) {
      // A quiet page: a comment line, so proxies keep the connection.
      const text = page.length === 0 ? ': keep-alive\n\n' : page.map((record) => eventOf(record, filter)).join('');
      if (text !== '' && !reply.raw.write(text)) await new Promise((resolve) => reply.raw.once('drain', resolve));
    }
  } catch {
    // The connection failed or closed: the stream ends, and the client reconnects with its Last-Event-ID.
  }
}
