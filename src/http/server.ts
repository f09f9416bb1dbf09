import { createServer } from 'node:http';
import { Counter } from 'prom-client';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RedisClient } from '../redis.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { registerQueueGauges } from '../metrics/queue-gauges.ts';
import { createRegistry } from '../metrics/registry.ts';
import { registerMetricsRoute } from '../metrics/route.ts';
import { accountRuntimes, UnknownAccountError, type AccountRuntime } from '../app/runtime.ts';
import { requireLoopbackHost, requireSameOriginJson, requireToken } from './auth.ts';
import type { ApiContext } from './context.ts';
import { registerDashboard } from './dashboard.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { batchRoutes } from './routes/batches.ts';
import { dlqRoutes } from './routes/dlq.ts';
import { enqueueRoutes } from './routes/enqueue.ts';
import { healthRoutes } from './routes/health.ts';
import { jobRoutes } from './routes/jobs.ts';

/** The whole request (headers and body) must arrive within this; every body here is small JSON. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** A connection with nothing on it for this long is closed. */
const IDLE_CONNECTION_TIMEOUT_MS = 30_000;

export interface HttpServerOptions {
  config: Config;
  /** A fail-fast (producer) connection, owned by the caller: requests answer 503 while Redis is down instead of hanging. */
  redis: RedisClient;
  log: Logger;
}

/**
 * The HTTP API, /metrics, /healthz and the dashboard, ready to listen. Every
 * route but /healthz and /metrics needs the API token when one is configured
 * (without one, the caller binds to 127.0.0.1 only), and every state-changing
 * request must be JSON and must not come from another site's page (auth.ts). Closing the server
 * closes the queue objects it made; the connection stays the caller's.
 */
export async function buildHttpServer({ config, redis, log }: HttpServerOptions): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = log;
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.http.bodyLimitBytes,
    // A client that sends its request slowly (or only part of it) is cut off
    // instead of holding a connection, and the shutdown, open for minutes.
    // Node checks these bounds every connectionsCheckingInterval (30 s by default).
    serverFactory: (handler) =>
      createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000 }, handler),
    connectionTimeout: IDLE_CONNECTION_TIMEOUT_MS,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler(redis, config.http.bodyLimitBytes));
  app.setNotFoundHandler(notFoundHandler);
  // JSON only: a text body would otherwise reach the routes as one string.
  app.removeContentTypeParser('text/plain');

  const runtimes = new Map(accountRuntimes(redis, config).map((r) => [r.name, r]));
  const ctx: ApiContext = { config, redis, runtimes, defaultRuntime: runtimes.get(config.account)! };
  for (const runtime of runtimes.values()) runtime.onQueueError(() => {});
  app.addHook('onClose', async () => {
    await Promise.all([...runtimes.values()].map((r) => r.close()));
  });
  app.decorateRequest('runtime', null as unknown as AccountRuntime);

  const registry = createRegistry();
  registerQueueGauges(registry, redis, [...runtimes.values()], log);
  registerMetricsRoute(app, registry);
  const enqueued = new Counter({
    name: 'livequeue_http_enqueued_total',
    help: 'Jobs this HTTP server was asked to enqueue, by account, operation and result (enqueued, duplicate, invalid)',
    labelNames: ['account', 'operation', 'result'],
    registers: [registry],
  });
  await app.register(healthRoutes(ctx));

  const { apiToken } = config.http;
  await app.register(async (api) => {
    api.addHook('onRequest', apiToken ? requireToken(apiToken) : requireLoopbackHost());
    api.addHook('onRequest', requireSameOriginJson());
    const accountRoutes = async (scope: FastifyInstance) => {
      await scope.register(enqueueRoutes((account, operation, result, count) => enqueued.inc({ account, operation, result }, count)));
      await scope.register(jobRoutes());
      await scope.register(dlqRoutes());
      await scope.register(batchRoutes());
    };
    // Today's routes act on the default account; /v1/accounts/:account/… on any account of the deployment.
    await api.register(
      async (scope) => {
        scope.addHook('onRequest', async (request) => {
          request.runtime = ctx.defaultRuntime;
        });
        await accountRoutes(scope);
      },
      { prefix: '/v1' },
    );
    await api.register(
      async (scope) => {
        scope.addHook('onRequest', async (request) => {
          const name = (request.params as { account?: string }).account ?? '';
          const runtime = runtimes.get(name);
          // 404 unknown-account (errors.ts).
          if (!runtime) throw new UnknownAccountError(name, { accounts: [...runtimes.keys()].map((n) => ({ name: n })) });
          request.runtime = runtime;
        });
        await accountRoutes(scope);
      },
      { prefix: '/v1/accounts/:account' },
    );
    await registerDashboard(api, ctx);
  });
  return app;
}
