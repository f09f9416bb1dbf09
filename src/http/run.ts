import type { Config } from '../config.ts';
import { createLogger, type Logger } from '../log.ts';
import { describeRedis, producerConnection, waitUntilReady } from '../redis.ts';
import { reportMaxmemoryPolicy } from '../redis-policy.ts';
import { DASHBOARD_PATH } from './dashboard.ts';
import { buildHttpServer } from './server.ts';
import { untilStopSignal } from '../signals.ts';

/**
 * The `serve` process: the HTTP API until SIGINT/SIGTERM, then it stops
 * accepting connections, finishes the requests in flight and resolves.
 */
export async function runHttpServer(config: Config, log: Logger = createLogger(config.logLevel)): Promise<void> {
  const redis = producerConnection(config.redis);
  redis.on('error', (error) => log.warn({ err: error.message }, 'redis connection error (reconnecting)'));
  try {
    await waitUntilReady(redis, config.redis);
    // BullMQ requires noeviction: warn (without delaying the start) if Redis may delete jobs.
    void reportMaxmemoryPolicy(redis, config.redis, log);
    const app = await buildHttpServer({ config, redis, log });
    const url = await app.listen({ host: config.http.host, port: config.http.port }).catch(async (error: unknown) => {
      await app.close();
      throw error;
    });
    log.info({ url, dashboard: `${url}${DASHBOARD_PATH}/`, redis: describeRedis(config.redis), prefix: config.prefix }, 'HTTP API listening');
    if (config.http.tokens.length === 0) {
      log.warn({ host: config.http.host }, `no LIVEQUEUE_API_TOKEN or LIVEQUEUE_API_TOKENS_FILE: listening on ${config.http.host} only, without authentication; set a token to serve other machines`);
    }
    log.info({ signal: await untilStopSignal() }, 'stopping: finishing requests in flight');
    // A hard deadline: requests still open after SHUTDOWN_TIMEOUT_MS are cut, so no client keeps the process up.
    const deadline = setTimeout(() => {
      log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out: closing the connections still open');
      app.server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    deadline.unref();
    await app.close();
    clearTimeout(deadline);
    log.info('stopped');
  } finally {
    redis.disconnect();
  }
}
