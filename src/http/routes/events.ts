import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { OPERATIONS, slugList } from '../../catalog/operations.ts';
import { batchIdSchema } from '../../batches/batches.ts';
import { toRecord, type AuditRecord } from '../../ledger/audit.ts';
import { blockingConnection, type RedisClient } from '../../redis.ts';
import '../context.ts';

/** A stream id (`<ms>-<seq>`), as SSE hands back in Last-Event-ID. */
const STREAM_ID = /^\d{1,15}-\d{1,20}$/;

const querySchema = z.object({
  batch: batchIdSchema.optional(),
  operation: z.enum(OPERATIONS, { error: `operation must be one of ${OPERATIONS.join(', ')}` }).optional(),
  /** Instead of a Last-Event-ID header (an EventSource cannot set one on its first connection). */
  after: z.string().regex(STREAM_ID, 'after must be an event id (<ms>-<seq>)').optional(),
});
type EventFilter = z.output<typeof querySchema>;

/** How long one read waits for new records; a comment line goes out after each, so proxies keep the connection. */
const BLOCK_MS = 5_000;
const PAGE = 200;

/** The SSE event a record becomes, or none: outcomes and finished batches are pushed; acts are in /audit. */
function eventOf(record: AuditRecord, filter: EventFilter): string | undefined {
  if (filter.batch !== undefined && record.batch !== filter.batch) return undefined;
  if (filter.operation !== undefined && record.operation !== filter.operation) return undefined;
  const name = record.kind === 'outcome' ? 'outcome' : record.kind === 'batch-done' ? 'batch.done' : undefined;
  if (name === undefined) return undefined;
  const { kind: _kind, ...data } = record;
  return `id: ${record.id}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * GET /events: job outcomes and `batch.done` as Server-Sent Events, read from
 * the account's audit trail. A client that reconnects with Last-Event-ID (or
 * ?after=) gets every event after it, within AUDIT_RETENTION_DAYS; a new one
 * gets the events from now on. Each client reads with a connection of its own,
 * closed with the response.
 */
export function eventRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    const open = new Set<() => void>();
    app.addHook('onClose', async () => {
      for (const close of open) close();
    });
    app.get(
      '/events',
      { config: { scope: 'read' }, schema: { querystring: querySchema } },
      async (request, reply) => {
        const header = request.headers['last-event-id'];
        const lastId = typeof header === 'string' && STREAM_ID.test(header) ? header : request.query.after ?? '$';
        const redis = blockingConnection(request.runtime.redis);
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
        reply.raw.write(`retry: 2000\n: ${request.runtime.name} events, ${request.query.batch ? `batch ${request.query.batch}` : 'every batch'}, ${request.query.operation ?? slugList()}\n\n`);
        void pump(redis, request.runtime.audit.key, lastId, request.query, reply, () => stopped).finally(stop);
      },
    );
  };
}

async function pump(redis: RedisClient, key: string, from: string, filter: EventFilter, reply: FastifyReply, stopped: () => boolean): Promise<void> {
  // The server's connections fail fast instead of queueing commands: wait until this one is up.
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  // "From now" is the trail's last id at the start, so nothing written between two reads is missed.
  let last = from === '$' ? ((await redis.xrevrange(key, '+', '-', 'COUNT', 1).catch(() => []))[0]?.[0] ?? '0-0') : from;
  while (!stopped()) {
    const answer = (await redis.xread('COUNT', PAGE, 'BLOCK', BLOCK_MS, 'STREAMS', key, last).catch(() => undefined)) as [string, [string, string[]][]][] | null | undefined;
    if (answer === undefined) return;
    const entries = answer?.[0]?.[1] ?? [];
    if (entries.length === 0) {
      reply.raw.write(': keep-alive\n\n');
      continue;
    }
    last = entries.at(-1)![0];
    const text = entries.flatMap(toRecord).map((record) => eventOf(record, filter) ?? '').join('');
    if (text !== '' && !reply.raw.write(text)) await new Promise((resolve) => reply.raw.once('drain', resolve));
  }
}
