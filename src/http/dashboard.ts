import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import { OPERATION_INFO, OPERATIONS } from '../catalog/operations.ts';
import type { ApiContext } from './context.ts';
import { scopeOfMethod } from './scopes.ts';
import { registerStatusPage } from './status-ui.ts';

/** The status page (status-ui.ts); bull-board below it. */
export const DASHBOARD_PATH = '/ui';
export const JOBS_PATH = `${DASHBOARD_PATH}/jobs`;

/** The fonts bull-board's page asks a public CDN for: the page renders with the system's fonts instead. */
const CDN_FONTS = /<link[^>]+fonts\.googleapis\.com[^>]*>/g;

/** Headers for every dashboard answer: no framing (clickjacking), nothing from other origins. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * The status page at /ui/, and bull-board at /ui/jobs/, to look at the queues: every queue is read-only there.
 * Its buttons would act on BullMQ behind the product's back (a pause no hold
 * shows, a job added without validation, jobs cleaned without a dead-letter
 * entry); the product's own commands do these things and keep status, holds
 * and dead letters true: `livequeue pause|resume`, `enqueue`, `batch cancel`,
 * `dlq replay|purge`, and their HTTP routes.
 */
export async function registerDashboard(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(JOBS_PATH);
  createBullBoard({
    queues: [
      ...OPERATIONS.map((op) => new BullMQAdapter(ctx.defaultRuntime.queue(op), { readOnlyMode: true, description: `${op} jobs (${OPERATION_INFO[op].slug})` })),
      new BullMQAdapter(ctx.defaultRuntime.deadLetters.queue, {
        readOnlyMode: true,
        description: 'jobs that can never succeed as sent, with their error; replay with POST /v1/dlq/replay or livequeue dlq replay',
      }),
    ],
    serverAdapter,
    options: { uiConfig: { boardTitle: `livequeue (account ${ctx.defaultRuntime.name})` } },
  });
  await app.register(
    async (scope) => {
      // bull-board's routes cannot declare a scope themselves: looking (GET) needs read, and its
      // state-changing routes (refused anyway: read-only) operate.
      scope.addHook('onRoute', (route) => {
        route.config = { ...route.config, scope: route.config?.scope ?? scopeOfMethod(route.method) };
      });
      scope.addHook('onSend', async (_request, reply, payload) => {
        reply.headers(SECURITY_HEADERS);
        return typeof payload === 'string' && String(reply.getHeader('content-type') ?? '').startsWith('text/html') ? payload.replace(CDN_FONTS, '') : payload;
      });
      await scope.register(serverAdapter.registerPlugin());
    },
    { prefix: JOBS_PATH },
  );
  await registerStatusPage(app, DASHBOARD_PATH);
}
