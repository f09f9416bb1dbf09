import Fastify from 'fastify';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { producerConnection } from '../redis.ts';
import { AccountRuntime } from './runtime.ts';
import { registerQueueGauges } from '../metrics/queue-gauges.ts';
import { createRegistry } from '../metrics/registry.ts';
import { registerMetricsRoute } from '../metrics/route.ts';
import { PrometheusWorkerObserver } from '../metrics/worker-observer.ts';

/** All interfaces: Prometheus scrapes workers from elsewhere (another container, another machine). */
const METRICS_HOST = '0.0.0.0';

export interface WorkerMetrics {
  observer: PrometheusWorkerObserver;
  url: string;
  close(): Promise<void>;
}

/**
 * The worker's `GET /metrics` on METRICS_PORT. Returns undefined when turned
 * off (port 0) or when the port is taken, e.g. by another worker process on
 * the same machine: metrics are not worth refusing to drain the queue for,
 * so that is a warning, not a failure.
 */
export async function startWorkerMetrics(config: Config, runtimes: readonly AccountRuntime[], log: Logger): Promise<WorkerMetrics | undefined> {
  if (config.metricsPort === 0) return undefined;
  const registry = createRegistry();
  const observer = new PrometheusWorkerObserver(registry);
  // Its own fail-fast connection: a scrape must not queue behind the worker's blocking commands or wait out an outage.
  const redis = producerConnection(config.redis);
  redis.on('error', () => {
    // The worker's own connection logs outages; scrapes report them as livequeue_redis_up 0.
  });
  // The gauges read through their own runtimes on the fail-fast connection.
  const scraped = runtimes.map((r) => new AccountRuntime(redis, config, r.settings));
  registerQueueGauges(registry, redis, scraped, log);
  const app = Fastify();
  registerMetricsRoute(app, registry);
  const close = async () => {
    await app.close();
    await Promise.all(scraped.map((r) => r.close()));
    redis.disconnect();
  };
  try {
    const url = await app.listen({ host: METRICS_HOST, port: config.metricsPort });
    log.info({ url: `${url}/metrics` }, 'metrics listening');
    return { observer, url, close };
  } catch (error) {
    log.warn({ port: config.metricsPort, err: error instanceof Error ? error.message : String(error) }, 'metrics: cannot listen; this worker runs without /metrics (set METRICS_PORT to a free port, or 0)');
    await close();
    return undefined;
  }
}
