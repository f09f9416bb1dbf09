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
import { recordRouteScopes } from './scopes.ts';
import type { ApiContext } from './context.ts';
import { registerDashboard } from './dashboard.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { batchRoutes } from './routes/batches.ts';
import { eventRoutes } from './routes/events.ts';
import { auditRoutes } from './routes/audit.ts';
import { dlqRoutes } from './routes/dlq.ts';
import { enqueueRoutes, type EnqueueCounter } from './routes/enqueue.ts';
import { healthRoutes } from './routes/health.ts';
import { jobRoutes } from './routes/jobs.ts';
import { statusPageRoutes } from './routes/status-page.ts';
import { statusRoutes } from './routes/status.ts';
import { blacklistRoutes } from './routes/blacklist.ts';
import { holdRoutes } from './routes/holds.ts';
import { rateRoutes } from './routes/rates.ts';
import { registerDocs, registerOpenApi } from './openapi.ts';

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
 * route but /healthz and /metrics needs an API token with the route's scope when tokens are configured
 * (without one, the caller binds to 127.0.0.1 only), and every state-changing
 * request must be JSON and must not come from another site's page (auth.ts). Closing the server
 * closes the queue objects it made; the connection stays the caller's.
 */
export async function buildHttpServer({ config, redis, log }: HttpServerOptions): Promise<FastifyInstance> {
  const app = createApp(config, redis, log);
  // Before any route: the OpenAPI document is built from every route registered after it.
  await registerOpenApi(app);
  const ctx = openAccounts(app, config, redis);
  const countEnqueued = registerMetrics(app, redis, ctx, log);
  await app.register(healthRoutes(ctx));
  await app.register(async (api) => {
    // Sets request.actor; with tokens, also refuses a token without the route's declared scope (scopes.ts).
    api.addHook('onRequest', config.http.tokens.length > 0 ? requireToken(config.http.tokens) : requireLoopbackHost());
    api.addHook('onRequest', requireSameOriginJson());
    recordRouteScopes(app, api);
    await registerAccountRoutes(api, ctx, countEnqueued);
    await registerDashboard(api, ctx);
    await registerDocs(api);
  });
  return app;
}

/** Fastify with our limits, zod schemas, error answers and JSON-only bodies; no routes yet. */
function createApp(config: Config, redis: RedisClient, log: Logger) {
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
  return app;
}

/** A runtime per account of the deployment, closed with the server. */
function openAccounts(app: FastifyInstance, config: Config, redis: RedisClient): ApiContext {
  const runtimes = new Map(accountRuntimes(redis, config).map((r) => [r.name, r]));
  const ctx: ApiContext = { config, redis, runtimes, defaultRuntime: runtimes.get(config.account)! };
  // The connection's owner reports outages; without a listener each queue would print them again.
  for (const runtime of runtimes.values()) runtime.onQueueError(() => {});
  app.addHook('onClose', async () => {
    await Promise.all([...runtimes.values()].map((r) => r.close()));
  });
  app.decorateRequest('runtime', null as unknown as AccountRuntime);
  app.decorateRequest('actor', '');
  return ctx;
}

/** /metrics: the queue gauges, and the counter of enqueue requests, which it returns for the enqueue routes. */
function registerMetrics(app: FastifyInstance, redis: RedisClient, ctx: ApiContext, log: Logger): EnqueueCounter {
  const registry = createRegistry();
  registerQueueGauges(registry, redis, [...ctx.runtimes.values()], log);
  registerMetricsRoute(app, registry);
  const enqueued = new Counter({
    name: 'livequeue_http_enqueued_total',
    help: 'Jobs this HTTP server was asked to enqueue, by account, operation and result (enqueued, duplicate, invalid)',
    labelNames: ['account', 'operation', 'result'],
    registers: [registry],
  });
  return (account, operation, result, count) => enqueued.inc({ account, operation, result }, count);
}

/** Today's routes act on the default account; /v1/accounts/:account/… on any account of the deployment. */
async function registerAccountRoutes(api: FastifyInstance, ctx: ApiContext, countEnqueued: EnqueueCounter): Promise<void> {
  const accountRoutes = async (scope: FastifyInstance) => {
    await scope.register(enqueueRoutes(countEnqueued));
    await scope.register(jobRoutes());
    await scope.register(dlqRoutes());
    await scope.register(batchRoutes());
    await scope.register(eventRoutes((name) => runtimeNamedIn({ account: name }, ctx.runtimes)));
    await scope.register(auditRoutes());
    await scope.register(statusPageRoutes(ctx));
    await scope.register(rateRoutes());
    await scope.register(statusRoutes());
    await scope.register(blacklistRoutes());
    await scope.register(holdRoutes());
  };
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
        request.runtime = runtimeNamedIn(request.params, ctx.runtimes);
      });
      await accountRoutes(scope);
    },
    { prefix: '/v1/accounts/:account' },
  );
}

/** The runtime of the :account in the path; 404 unknown-account (errors.ts) when there is none. */
function runtimeNamedIn(params: unknown, runtimes: ApiContext['runtimes']): AccountRuntime {
  const name = (params as { account?: string }).account ?? '';
  const runtime = runtimes.get(name);
  if (!runtime) throw new UnknownAccountError(name, { accounts: [...runtimes.keys()].map((n) => ({ name: n })) });
  return runtime;
}
