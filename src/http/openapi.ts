import fastifySwagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OPERATION_INFO, OPERATIONS, type Operation } from '../catalog/operations.ts';
import { batchIdSchema } from '../batches/batches.ts';
import { PARAMS_SCHEMA } from '../jobs/schemas.ts';
import { PRIORITIES } from '../queue/job-options.ts';
import { actFields } from './act.ts';
import { MAX_JOBS_PER_REQUEST } from './routes/enqueue.ts';
import { API_SCOPES } from './scopes.ts';
import { DASHBOARD_PATH } from './dashboard.ts';
import './context.ts';
import { packageVersion } from '../package-version.ts';

/** The OpenAPI 3.1 document, generated from the routes' zod schemas. */
export const OPENAPI_PATH = '/openapi.json';
/** The reference page (Swagger UI), every asset served from here. */
export const DOCS_PATH = '/docs';

/** The areas an operation belongs to: the document's tags, in this order. */
export const AREAS = {
  enqueue: 'Enqueue bans, monitor stops and lifts (each job checked by the schemas input files use)',
  jobs: 'Where one job is',
  batches: 'One enqueue\'s jobs: counts, cancel, undo',
  'dead letters': 'Jobs that can never succeed as sent: list, replay, purge',
  holds: 'Pause and resume an operation by hand',
  rates: 'The configured rate of an operation\'s bucket',
  blacklist: 'The 10,000-stream blacklist\'s headroom',
  status: 'Queue depths, outcomes, rates and holds; health and metrics',
  audit: 'Who did what to a stream or a monitor, and the whole trail',
  events: 'Outcomes and finished batches, pushed as Server-Sent Events',
} as const;
export type Area = keyof typeof AREAS;

interface Naming {
  operationId: string;
  summary: string;
  tag: Area;
}

const pascal = (slug: string) => slug.replace(/(^|-)([a-z])/g, (_, _dash: string, c: string) => c.toUpperCase());

/**
 * Names of the routes that do not declare their own (`schema: { operationId,
 * summary, tags }` next to the route wins), by method and path under /v1 (or
 * /v1/accounts/:account). A route with neither is caught by the OpenAPI test.
 */
const NAMES: Readonly<Record<string, Naming>> = {
  ...Object.fromEntries(
    OPERATIONS.map((op) => [
      `POST /${OPERATION_INFO[op].slug}`,
      { operationId: `enqueue${pascal(OPERATION_INFO[op].slug)}`, summary: `Enqueue ${op} jobs: one, an array, or {batch, jobs, reason, ticket}`, tag: 'enqueue' },
    ]),
  ),
  'GET /jobs/:id': { operationId: 'getJob', summary: 'Where a job is: queued, applied, already applied or dead-lettered', tag: 'jobs' },
  'GET /batches/:id': { operationId: 'getBatch', summary: 'A batch\'s counts by state, who made it and who undid it (as livequeue batch show)', tag: 'batches' },
  'POST /batches/:id/cancel': { operationId: 'cancelBatch', summary: 'Stop a batch\'s pending jobs (as livequeue batch cancel)', tag: 'batches' },
  'POST /batches/:id/undo': { operationId: 'undoBatch', summary: 'Cancel a batch of bans and lift every ban it applied (as livequeue batch undo)', tag: 'batches' },
  'POST /batches/cancel': { operationId: 'cancelAllPending', summary: 'Cancel every pending job of the account; needs confirm', tag: 'batches' },
  'GET /events': { operationId: 'streamEvents', summary: 'Job outcomes and batch.done as Server-Sent Events (text/event-stream)', tag: 'events' },
  'GET /history': { operationId: 'getHistory', summary: 'What happened to one stream or monitor, oldest first (as livequeue history)', tag: 'audit' },
  'GET /audit': { operationId: 'pageAudit', summary: 'The audit trail, oldest first, a page at a time (as livequeue audit export)', tag: 'audit' },
  'POST /rates/:operation': { operationId: 'setRate', summary: 'Override an operation\'s rate, for a while or until reset (as livequeue rate set)', tag: 'rates' },
  'DELETE /rates/:operation': { operationId: 'resetRate', summary: 'Drop the rate override: back to the configured rate (as livequeue rate reset)', tag: 'rates' },
  'GET /healthz': { operationId: 'getHealth', summary: 'Redis reachable and a worker for every operation (no token needed)', tag: 'status' },
  'GET /metrics': { operationId: 'getMetrics', summary: 'Prometheus metrics, text format (no token needed)', tag: 'status' },
};

/** Routes answered without a token (server.ts registers them outside the authenticated scope). */
const OPEN_ROUTES = new Set(['/healthz', '/metrics']);

const ACCOUNT_PREFIX = '/v1/accounts/:account';

/** Not operations of the API: the document, its page and assets, and the dashboard's. */
function isHidden(url: string): boolean {
  return [OPENAPI_PATH, DOCS_PATH, DASHBOARD_PATH].some((path) => url === path || url.startsWith(`${path}/`));
}

/** The route's path under /v1 (or /v1/accounts/:account), and whether it is the per-account one. */
function relativeUrl(url: string): { path: string; account: boolean } {
  if (url.startsWith(`${ACCOUNT_PREFIX}/`)) return { path: url.slice(ACCOUNT_PREFIX.length), account: true };
  if (url.startsWith('/v1/')) return { path: url.slice(3), account: false };
  return { path: url, account: false };
}

type JsonSchema = { type?: string; properties?: Record<string, unknown>; required?: string[]; [key: string]: unknown };

/**
 * Path parameters as the URL has them: a route's params schema may name
 * `account` (optional, for both prefixes) where the path has none, and a
 * route under /v1/accounts/:account may leave it out.
 */
function pathParams(url: string, params: JsonSchema | undefined): JsonSchema | undefined {
  const names = [...url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  if (names.length === 0) return undefined;
  const declared = params?.properties ?? {};
  const account = { type: 'string', description: 'an account of the deployment (LIVE_ACCOUNT, or a name of the accounts file)' };
  return { type: 'object', properties: Object.fromEntries(names.map((name) => [name, declared[name] ?? (name === 'account' ? account : { type: 'string' })])), required: names };
}

/**
 * An enqueue's body as clients send it: one job, an array of jobs, or
 * `{batch, reason, ticket, jobs}`, each job the operation's API parameters
 * plus `priority`. The route reads the jobs one by one (one bad job does not
 * hold back the others), so its own schema says only "a list"; the document
 * says what a job is, from the same schemas as input files.
 */
function enqueueBody(operation: Operation): Record<string, unknown> {
  const job = PARAMS_SCHEMA[operation].extend({ priority: z.enum(PRIORITIES).optional().describe('urgent jobs go before the backlog; normal by default') });
  const jobs = z.array(job).min(1).max(MAX_JOBS_PER_REQUEST);
  const body = z.union([job, jobs, z.strictObject({ batch: batchIdSchema.optional(), ...actFields, jobs })]);
  const { $schema: _, ...schema } = z.toJSONSchema(body, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
  return schema;
}
const ENQUEUE_BODIES = new Map(OPERATIONS.map((op) => [`/${OPERATION_INFO[op].slug}`, enqueueBody(op)]));

type TransformInput = Parameters<typeof jsonSchemaTransform>[0] & { route: RouteOptions };

/**
 * jsonSchemaTransform (the zod schemas as JSON Schema 2020-12), then what
 * the document needs beyond the schemas: each operation's id, summary and
 * area, the scope its token needs (as the bearer scheme's roles, which
 * OpenAPI 3.1 allows), path parameters as the URL has them.
 */
function transform(input: TransformInput): { schema: Record<string, unknown>; url: string } {
  const { url, route } = input;
  if (isHidden(url)) return { schema: { hide: true }, url };
  const transformed = jsonSchemaTransform(input) as { schema?: Record<string, unknown>; url: string };
  const schema: Record<string, unknown> = { ...transformed.schema };
  if (schema.hide) return { schema, url };
  const { path, account } = relativeUrl(url);
  const method = (Array.isArray(route.method) ? route.method[0] : route.method) as string;
  const naming = NAMES[`${method} ${path}`];
  const operationId = (route.schema?.operationId as string | undefined) ?? naming?.operationId;
  if (operationId) schema.operationId = account ? `${operationId}ForAccount` : operationId;
  schema.summary ??= naming?.summary;
  schema.tags ??= naming ? [naming.tag] : undefined;
  if (method === 'POST' && ENQUEUE_BODIES.has(path)) schema.body = ENQUEUE_BODIES.get(path);
  const params = pathParams(url, schema.params as JsonSchema | undefined);
  if (params) schema.params = params;
  else delete schema.params;
  if (OPEN_ROUTES.has(url)) {
    schema.security = [];
  } else {
    const scopes = route.config?.scope ? [route.config.scope] : [...API_SCOPES];
    schema.security = [{ bearer: scopes }];
    const needs = `Needs a token with the ${scopes.map((s) => `\`${s}\``).join(', ')} scope${scopes.length > 1 ? 's' : ''}.`;
    schema.description = [schema.description, account ? 'Acts on the account named in the path.' : 'Acts on the default account (LIVE_ACCOUNT).', needs].filter(Boolean).join(' ');
  }
  return { schema, url };
}


const SCOPES_DESCRIPTION = [
  'An API token: `$LIVEQUEUE_API_TOKEN` (the token named `default`, every scope), or one of `LIVEQUEUE_API_TOKENS_FILE`, each with a name (the actor the audit trail records) and its scopes:',
  '',
  '- `enqueue`: POST /v1/forbid, /v1/stop-monitor, /v1/resume-stream;',
  '- `operate`: every other state-changing route (batch cancel and undo, dead-letter replay and purge, pause and resume);',
  '- `read`: every GET, this document, /docs and the dashboard.',
  '',
  'Each operation lists the scope it needs as this scheme\'s role. A browser may send the token as the Basic-auth password instead (any user name). A missing or wrong token is answered 401, a token without the scope 403 `missing-scope`.',
].join('\n');

/** The options of @fastify/swagger: OpenAPI 3.1, the bearer scheme, the areas as tags. */
export function swaggerOptions(): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'livequeue',
        version: packageVersion(),
        description:
          'Rate-limited job queue for ApsaraVideo Live: bans (ForbidLiveStream), monitor stops (StopLiveStreamMonitor) and lifts (ResumeLiveStream). ' +
          'Every route under /v1 acts on the default account; the same route under /v1/accounts/{account} on any account of the deployment. ' +
          'State-changing requests must send `content-type: application/json` (`{}` when the route takes no body). Errors are `{error, message, errors?}`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: SCOPES_DESCRIPTION } } },
      security: [{ bearer: [] }],
      tags: Object.entries(AREAS).map(([name, description]) => ({ name, description })),
    },
    transform: transform as FastifyDynamicSwaggerOptions['transform'],
    transformObject: jsonSchemaTransformObject,
  };
}

/**
 * @fastify/swagger on the root instance, before any route: it collects every
 * route registered after it (an onRoute hook), and builds the document once
 * the server is ready.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, swaggerOptions());
}

/** Headers for the document and its page: no framing, nothing from other origins (the dashboard's policy). */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * GET /openapi.json and the reference page at /docs (Swagger UI, its scripts,
 * styles and images served from here, no CDN, under the CSP above), both for a
 * `read` token. Registered in the authenticated scope.
 */
export async function registerDocs(api: FastifyInstance): Promise<void> {
  await api.register(async (scope) => {
    // Swagger UI's routes cannot declare a scope themselves: all of them only read.
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, scope: route.config?.scope ?? 'read' };
    });
    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.headers(SECURITY_HEADERS);
      return payload;
    });
    scope.get(OPENAPI_PATH, { config: { scope: 'read' }, schema: { hide: true } }, async () => scope.swagger());
    await scope.register(fastifySwaggerUi, {
      routePrefix: DOCS_PATH,
      uiConfig: { deepLinking: true, tryItOutEnabled: false, persistAuthorization: false },
      theme: { title: 'livequeue API' },
    });
  });
}
