import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { API_SCOPES } from '../../config/tokens-file.ts';
import { tokenOf } from '../auth.ts';
import type { ApiContext } from '../context.ts';

const whoamiSchema = z.object({
  /** The token's name (the actor the audit trail records), or "loopback" without tokens. */
  actor: z.string(),
  scopes: z.array(z.enum(API_SCOPES)),
});

/**
 * GET /whoami: who the request acts for and what its token may do, so a page
 * shows only the buttons that would be answered. Never the token itself.
 */
export function whoamiRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/whoami', { config: { scope: 'read' }, schema: { operationId: 'whoami', summary: 'The token\'s name (the actor) and its scopes', tags: ['status'], response: { 200: whoamiSchema } } }, async (request) => {
      const { tokens } = ctx.config.http;
      // Without tokens the server answers loopback only, and every route: every scope.
      if (tokens.length === 0) return { actor: request.actor, scopes: [...API_SCOPES] };
      const token = tokenOf(tokens, request.headers.authorization);
      return { actor: request.actor, scopes: [...(token?.scopes ?? [])] };
    });
  };
}
