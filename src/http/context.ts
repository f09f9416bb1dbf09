import type { RedisClient } from '../redis.ts';
import type { AccountRuntime } from '../app/runtime.ts';
import type { Config } from '../config.ts';
import type { ApiScope } from '../config/tokens-file.ts';

/** What the routes share: one fail-fast Redis connection and a runtime per account. */
export interface ApiContext {
  config: Config;
  redis: RedisClient;
  runtimes: ReadonlyMap<string, AccountRuntime>;
  /** The account of the routes without /accounts/:account (config.account). */
  defaultRuntime: AccountRuntime;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The scope a token needs for the route (http/scopes.ts), declared next to
     * it: `app.post('/x', { config: { scope: 'operate' } }, …)`. Without one,
     * the route needs every scope.
     */
    scope?: ApiScope;
  }

  interface FastifyRequest {
    /** The account the request acts on: from /v1/accounts/:account/…, or the default account. */
    runtime: AccountRuntime;
    /**
     * Who the request acts for: the name of the token it carried
     * (LIVEQUEUE_API_TOKEN's is "default"), or "loopback" when the server
     * runs without tokens on 127.0.0.1. Set by auth.ts before any route of
     * the API or the dashboard runs ("" on /healthz and /metrics, which are open).
     */
    actor: string;
  }
}
