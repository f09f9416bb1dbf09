import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { headroomSchema } from '../../blacklist/headroom.ts';
import '../context.ts';
import { errorBodySchema } from '../errors.ts';

/**
 * GET /blacklist: the blacklist's size and headroom as last read, as
 * `livequeue blacklist` without --refresh. Read-only: it never calls the API
 * (workers read it every BLACKLIST_REFRESH_MS; `livequeue blacklist --refresh`
 * reads it now); 404 while it was never read.
 */
export function blacklistRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/blacklist',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getBlacklist',
          summary: 'The blacklist\'s size and headroom (cap 10,000) per domain, as last read',
          tags: ['blacklist'],
          response: { 200: headroomSchema, 404: errorBodySchema },
        },
      },
      async (request, reply) => {
        const headroom = await request.runtime.blacklist.cached();
        if (headroom) return reply.send(headroom);
        return reply.code(404).send({
          error: 'not-found',
          message: `the blacklist of account ${request.runtime.name} was never read: workers read it every BLACKLIST_REFRESH_MS, or run \`livequeue blacklist --refresh\``,
        });
      },
    );
  };
}
