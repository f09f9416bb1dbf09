import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { OPERATIONS } from '../live/operations.ts';
import type { Logger } from '../log.ts';
import { registerQueueGauges } from '../metrics/queue-gauges.ts';
import { createRegistry } from '../metrics/registry.ts';
import { registerMetricsRoute } from '../metrics/route.ts';
import { DeadLetterQueue } from '../queue/dead-letter.ts';
import { Outcomes } from '../queue/outcomes.ts';
import { Producer } from '../queue/producer.ts';
import { requireToken } from './auth.ts';
import type { ApiContext } from './context.ts';
import { registerDashboard } from './dashboard.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { dlqRoutes } from './routes/dlq.ts';
import { enqueueRoutes } from './routes/enqueue.ts';
import { healthRoutes } from './routes/health.ts';
import { jobRoutes } from './routes/jobs.ts';

export interface HttpServerOptions {
  config: Config;
  /** A fail-fast (producer) connection, owned by the caller: requests answer 503 while Redis is down instead of hanging. */
  redis: Redis;
  log: Logger;
}

/**
 * The HTTP API, /metrics, /healthz and the dashboard, ready to listen. Every
 * route but /healthz and /metrics needs the API token when one is configured
 * (without one, the caller binds to 127.0.0.1 only). Closing the server
 * closes the queue objects it made; the connection stays the caller's.
 */
export async function buildHttpServer({ config, redis, log }: HttpServerOptions): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = log;
  const app = Fastify({ loggerInstance: logger, bodyLimit: config.http.bodyLimitBytes }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler(redis, config.http.bodyLimitBytes));
  app.setNotFoundHandler(notFoundHandler);
  // JSON only: a text body would otherwise reach the routes as one string.
  app.removeContentTypeParser('text/plain');

  const ctx: ApiContext = {
    config,
    redis,
    producer: new Producer(redis, config),
    deadLetters: new DeadLetterQueue(redis, config.prefix),
    outcomes: new Outcomes(redis, config.prefix, config.outcomeTtlSeconds),
  };
  // The caller's connection reports outages; without listeners BullMQ would print each one again per queue.
  for (const queue of [...OPERATIONS.map((op) => ctx.producer.queue(op)), ctx.deadLetters.queue]) queue.on('error', () => {});
  app.addHook('onClose', async () => {
    await ctx.producer.close();
    await ctx.deadLetters.close();
  });

  const registry = createRegistry();
  registerQueueGauges(registry, redis, config, log);
  registerMetricsRoute(app, registry);
  await app.register(healthRoutes(ctx));

  const { apiToken } = config.http;
  await app.register(async (api) => {
    if (apiToken) api.addHook('onRequest', requireToken(apiToken));
    await api.register(enqueueRoutes(ctx));
    await api.register(jobRoutes(ctx));
    await api.register(dlqRoutes(ctx));
    await registerDashboard(api, ctx);
  });
  return app;
}
