import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../src/config.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { producerConnection, singleNode, waitUntilReady, type RedisClient } from '../../src/redis.ts';

/** Long enough for the config's 16-character minimum; never printed by the server. */
export const API_TOKEN = 'test-api-token-Vb7kQ2xN9mP4';
/** Environment for testConfig/startHarness: a token, and loopback even though a token would allow 0.0.0.0. */
export const HTTP_ENV = { LIVEQUEUE_API_TOKEN: API_TOKEN, HTTP_HOST: '127.0.0.1' };

export interface TestServer {
  url: string;
  app: FastifyInstance;
  redis: RedisClient;
  /** fetch relative to the server, with the API token unless `auth: false`. */
  request(path: string, init?: RequestInit & { auth?: boolean; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/** The HTTP server in-process on a free port, on its own fail-fast connection as `livequeue serve` runs it. */
export async function startTestServer(config: Config, { redisUrl, log = createLogger('silent') }: { redisUrl?: string; log?: Logger } = {}): Promise<TestServer> {
  const redis = producerConnection(redisUrl ? singleNode(redisUrl) : config.redis);
  redis.on('error', () => {});
  if (!redisUrl) await waitUntilReady(redis, config.redis);
  const app = await buildHttpServer({ config, redis, log });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    app,
    redis,
    request(path, { auth = true, json, headers, ...init } = {}) {
      const h = new Headers(headers);
      if (auth) h.set('authorization', `Bearer ${API_TOKEN}`);
      if (json !== undefined) h.set('content-type', 'application/json');
      return fetch(`${url}${path}`, { ...init, headers: h, body: json !== undefined ? JSON.stringify(json) : init.body });
    },
    async close() {
      await app.close();
      redis.disconnect();
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
