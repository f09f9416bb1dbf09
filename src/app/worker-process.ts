import type { Config } from '../config.ts';
import { accountRuntimes, type AccountRuntime } from './runtime.ts';
import { accountWorkers } from './account-workers.ts';
import { CredentialsUnavailableError, type AlibabaLiveClient } from '../live/client.ts';
import { startBlacklistRefresh } from '../blacklist/refresh.ts';
import type { LiveWorkers } from '../worker/worker.ts';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import { createLogger, type Logger } from '../log.ts';
import { startWorkerMetrics } from './worker-metrics.ts';
import { describeRedis, workerConnection } from '../redis.ts';
import { reportMaxmemoryPolicy } from '../redis-policy.ts';
import { OutageLog } from '../worker/outage-log.ts';
import { untilStopSignal } from '../signals.ts';
import { startWebhooks } from '../webhooks/webhooks.ts';

export interface RunWorkersOptions {
  /** Accounts to serve (default: every account of the deployment). */
  accounts?: readonly string[];
  operations?: readonly Operation[];
  concurrency?: number;
  log?: Logger;
}

/**
 * A worker process: drains the given operations of every account it serves
 * until SIGINT/SIGTERM, then stops taking jobs, lets in-flight calls finish
 * (up to the shutdown timeout) and resolves. Each account has its own
 * queues, buckets, holds, credentials and concurrency, so one account's
 * backlog, hold or outage never slows another.
 */
export async function runWorkers(config: Config, options: RunWorkersOptions = {}): Promise<void> {
  const log = options.log ?? createLogger(config.logLevel);
  const redis = workerConnection(config.redis);
  const outage = new OutageLog(log);
  redis.on('error', (error) => outage.error('connection', error));
  redis.on('ready', () => outage.ready());
  // BullMQ requires noeviction: warn at once (without delaying the start) if Redis may delete jobs.
  void reportMaxmemoryPolicy(redis, config.redis, log);
  const runtimes = accountRuntimes(redis, config, options.accounts);
  for (const runtime of runtimes) runtime.onQueueError((error) => outage.error('queue', error));
  const clients = runtimes.map((runtime) => runtime.liveClient());
  try {
    await checkCredentials(config, runtimes, clients);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const metrics = await startWorkerMetrics(config, runtimes, log);
  const workers = runtimes.map((runtime, i) => {
    const readBlacklist = () => void runtime.blacklist.refresh(clients[i]!).catch((error: Error) => log.warn({ account: runtime.name, err: error.message }, 'could not read the blacklist size'));
    const observer = metrics?.observer.forAccount(runtime.name);
    return accountWorkers(runtime, { live: clients[i], log, operations: options.operations, concurrency: options.concurrency, observer, outage, onBlacklistFull: readBlacklist });
  });
  for (const w of workers) w.start();
  const stopRefresh = runtimes.map((runtime, i) => startBlacklistRefresh(runtime, clients[i]!, config.blacklistRefreshMs, log));
  // Each endpoint of LIVEQUEUE_WEBHOOKS_FILE has its own queue and worker: a slow receiver delays no ban.
  const webhooks = config.webhooks.endpoints.length > 0 ? await startWebhooks(runtimes, config, log) : undefined;
  log.info(
    {
      redis: describeRedis(config.redis),
      endpoint: config.live.endpoint,
      accounts: runtimes.map((r) => ({ account: r.name, region: r.settings.region, qps: r.settings.qps })),
      operations: options.operations ?? OPERATIONS,
      concurrency: options.concurrency ?? config.concurrency,
    },
    'workers started',
  );

  log.info({ signal: await untilStopSignal() }, 'stopping: finishing in-flight calls');
  for (const stop of stopRefresh) stop();
  const force = await stopWorkers(config, webhooks ? [...workers, webhooks] : workers, outage, log);
  await metrics?.close();
  if (force) {
    redis.disconnect();
    return;
  }
  await Promise.all(runtimes.map((r) => r.close()));
  await redis.quit().catch(() => redis.disconnect());
}

/**
 * Before any job is taken: without credentials every call would fail, and
 * that is a deployment error to report at once, not a backlog to retry.
 */
async function checkCredentials(config: Config, runtimes: readonly AccountRuntime[], clients: readonly AlibabaLiveClient[]): Promise<void> {
  for (const [i, client] of clients.entries()) {
    await client.checkCredentials().catch((error: unknown) => {
      throw config.accounts.length > 1 ? new CredentialsUnavailableError(error, runtimes[i]!.name) : error;
    });
  }
}

/**
 * Lets in-flight calls finish, up to the shutdown timeout. With Redis
 * unreachable no in-flight job can finish (its result could not be written):
 * it does not wait for them (returns true). They stay locked in Redis and
 * another worker takes them over after JOB_LOCK_MS.
 */
async function stopWorkers(config: Config, workers: readonly Pick<LiveWorkers, 'close'>[], outage: OutageLog, log: Logger): Promise<boolean> {
  const force = outage.redisDown;
  if (force) log.warn('Redis unreachable: stopping without waiting for in-flight jobs; another worker takes them over after JOB_LOCK_MS');
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, config.shutdownTimeoutMs, 'timeout').unref());
  const result = await Promise.race([Promise.all(workers.map((w) => w.close(force))).then(() => 'closed' as const), timeout]);
  if (result === 'timeout') log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; unfinished jobs will be picked up again by another worker');
  else log.info('stopped');
  return force;
}
