import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from '../context.ts';
import { batchListRoutes } from './batch-list.ts';
import { callsRoutes } from './calls.ts';
import { overviewRoutes } from './overview.ts';
import { whoamiRoutes } from './whoami.ts';

/** The JSON routes the status page (/ui/) reads: GET /overview, /calls, /batches and /whoami, each useful on its own too. */
export function statusPageRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    await app.register(overviewRoutes(ctx));
    await app.register(callsRoutes());
    await app.register(batchListRoutes());
    await app.register(whoamiRoutes(ctx));
  };
}
