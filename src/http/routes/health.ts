import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OPERATIONS, type Operation } from '../../catalog/operations.ts';
import type { ApiContext } from '../context.ts';

const REDIS_TIMEOUT_MS = 2_000;

const healthSchema = z.object({
  /**
   * ok: Redis answers and every operation of the catalog has a worker (a bare `livequeue worker` drains them all);
   * degraded: some operation has none, so its jobs wait (workers started with --operations cover only part);
   * unavailable: Redis does not answer.
   */
  status: z.enum(['ok', 'degraded', 'unavailable']),
  redis: z.enum(['up', 'down']),
  /** Worker connections BullMQ sees per operation queue, across all processes and machines. */
  workers: z.record(z.enum(OPERATIONS), z.number().int()).optional(),
});

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `GET /healthz`, unauthenticated for load balancers and orchestrators. Only
 * an unreachable Redis is unhealthy (503): with no workers the API still
 * accepts jobs, which wait for a worker, so that is reported but answered 200.
 */
export function healthRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/healthz', { schema: { response: { 200: healthSchema, 503: healthSchema } } }, async (_request, reply) => {
      if (ctx.redis.status !== 'ready') return reply.code(503).send({ status: 'unavailable', redis: 'down' });
      let counts: number[];
      try {
        counts = await withTimeout(Promise.all(OPERATIONS.map((op) => ctx.defaultRuntime.queue(op).getWorkersCount())), REDIS_TIMEOUT_MS);
      } catch {
        return reply.code(503).send({ status: 'unavailable', redis: 'down' });
      }
      const workers = Object.fromEntries(OPERATIONS.map((op, i) => [op, counts[i]!])) as Record<Operation, number>;
      return reply.send({ status: counts.every((n) => n > 0) ? 'ok' : 'degraded', redis: 'up', workers });
    });
  };
}
