import type { RedisClient } from '../redis.ts';
import type { AccountRuntime } from '../app/runtime.ts';
import type { Config } from '../config.ts';

/** What the routes share: one fail-fast Redis connection and a runtime per account. */
export interface ApiContext {
  config: Config;
  redis: RedisClient;
  runtimes: ReadonlyMap<string, AccountRuntime>;
  /** The account of the routes without /accounts/:account (config.account). */
  defaultRuntime: AccountRuntime;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The account the request acts on: from /v1/accounts/:account/…, or the default account. */
    runtime: AccountRuntime;
  }
}
