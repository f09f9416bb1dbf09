import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import { OPERATION_INFO, OPERATIONS } from '../live/operations.ts';
import type { ApiContext } from './context.ts';

export const DASHBOARD_PATH = '/ui';

/**
 * bull-board at /ui: both operation queues and the dead-letter queue. The
 * dead-letter queue is read-only there, because its entries are not jobs to
 * retry in place: replay puts them back on their operation's queue
 * (`POST /v1/dlq/replay`, `livequeue dlq replay`).
 */
export async function registerDashboard(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: [
      ...OPERATIONS.map((op) => new BullMQAdapter(ctx.defaultRuntime.queue(op), { description: `${op} jobs (${OPERATION_INFO[op].slug})` })),
      new BullMQAdapter(ctx.defaultRuntime.deadLetters.queue, {
        readOnlyMode: true,
        description: 'jobs that can never succeed as sent, with their error; replay with POST /v1/dlq/replay or livequeue dlq replay',
      }),
    ],
    // @bull-board/fastify pins an older @bull-board/api whose private fields make the types differ; the runtime contract is the same.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: `livequeue (account ${ctx.defaultRuntime.name})` } },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
}
