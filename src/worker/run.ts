import type { Config } from '../config.ts';
import { AlibabaLiveClient, type LiveApi } from '../live/client.ts';
import type { Operation } from '../live/operations.ts';
import { createLogger, type Logger } from '../log.ts';
import { startWorkerMetrics } from '../metrics/worker-metrics.ts';
import { redactUrl, workerConnection } from '../redis.ts';
import { LiveWorkers } from './worker.ts';
import { untilStopSignal } from '../signals.ts';

export interface RunWorkersOptions {
  operations?: readonly Operation[];
  concurrency?: number;
  log?: Logger;
  live?: LiveApi;
}

/**
 * A worker process: drains the given operations until SIGINT/SIGTERM, then
 * stops taking jobs, lets in-flight calls finish (up to the shutdown timeout)
 * and resolves.
 */
export async function runWorkers(config: Config, options: RunWorkersOptions = {}): Promise<void> {
  const log = options.log ?? createLogger(config.logLevel);
  const live = options.live ?? new AlibabaLiveClient(config.live);
  // Before any job is taken: without credentials every call would fail, and
  // that is a deployment error to report at once, not a backlog to retry.
  await live.checkCredentials();
  const redis = workerConnection(config.redisUrl);
  redis.on('error', (error) => log.warn({ err: error.message }, 'redis connection error (reconnecting)'));
  const metrics = await startWorkerMetrics(config, log);
  const workers = new LiveWorkers({
    config,
    log,
    redis,
    live,
    operations: options.operations,
    concurrency: options.concurrency,
    observer: metrics?.observer,
  });
  workers.start();
  log.info(
    { redis: redactUrl(config.redisUrl), endpoint: config.live.endpoint, account: config.account, operations: [...workers.buckets.keys()], qps: config.qps, concurrency: options.concurrency ?? config.concurrency },
    'workers started',
  );

  log.info({ signal: await untilStopSignal() }, 'stopping: finishing in-flight calls');

  const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, config.shutdownTimeoutMs, 'timeout').unref());
  const result = await Promise.race([workers.close().then(() => 'closed' as const), timeout]);
  if (result === 'timeout') log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; unfinished jobs will be picked up again by another worker');
  else log.info('stopped');
  await metrics?.close();
  await redis.quit().catch(() => redis.disconnect());
}
