import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { redactUrl } from './redact.ts';
import { LivequeueError } from './errors.ts';
import type { HostPort, RedisSettings } from './config/settings.ts';

export { redactUrl };
export type { HostPort, RedisSettings };

/** A connection to one Redis, a Sentinel-managed master, or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

const list = (nodes: readonly HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');

/** Where Redis is, for logs and errors: never the password. */
export function describeRedis(settings: RedisSettings): string {
  switch (settings.mode) {
    case 'single':
      return redactUrl(settings.url);
    case 'cluster':
      return `Redis Cluster via ${list(settings.nodes)}`;
    case 'sentinel':
      return `master "${settings.masterName}" via Sentinel ${list(settings.sentinels)}`;
  }
}

/**
 * A master that was demoted in a failover answers writes with READONLY:
 * reconnect (Sentinel then names the new master) and send the command again.
 */
const reconnectOnReadonly = (error: Error) => (error.message.startsWith('READONLY') ? 2 : false);

/**
 * Connections for the two kinds of users. Workers block on Redis and must
 * ride out restarts and failovers, so their commands wait for a reconnect
 * (BullMQ requires this). Producers answer a person or a service, so a
 * command fails fast with a clear error when Redis is down instead of hanging.
 */
const KIND_OPTIONS: Record<'worker' | 'producer', RedisOptions> = {
  worker: { maxRetriesPerRequest: null, enableReadyCheck: true },
  producer: { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000 },
};

function connect(settings: RedisSettings, kind: 'worker' | 'producer'): RedisClient {
  const options: RedisOptions = {
    ...KIND_OPTIONS[kind],
    reconnectOnError: reconnectOnReadonly,
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(settings.tls ? { tls: {} } : {}),
  };
  switch (settings.mode) {
    case 'single':
      return new Redis(settings.url, options);
    case 'sentinel':
      // The same password for the sentinels, as managed services set it up.
      // failoverDetector: follow the sentinels' +switch-master at once. A master
      // that is still reachable keeps accepting writes for seconds after its
      // replica was promoted; writes sent there then are lost when it resyncs.
      return new Redis({ ...options, sentinels: settings.sentinels, name: settings.masterName, failoverDetector: true, ...(settings.password !== undefined ? { sentinelPassword: settings.password } : {}), ...(settings.tls ? { enableTLSForSentinelMode: true } : {}) });
    case 'cluster': {
      const { enableOfflineQueue, ...redisOptions } = options;
      const cluster: ClusterOptions = {
        redisOptions,
        // Follow the slot map as it changes (failover, resharding) and keep commands waiting meanwhile.
        enableOfflineQueue: enableOfflineQueue ?? true,
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 300,
        retryDelayOnTryAgain: 200,
        slotsRefreshTimeout: 2_000,
        ...(kind === 'producer' ? { clusterRetryStrategy: (times: number) => (times > 3 ? null : 200 * times) } : {}),
      };
      return new Cluster(settings.nodes, cluster);
    }
  }
}

export function workerConnection(settings: RedisSettings): RedisClient {
  return connect(settings, 'worker');
}

export function producerConnection(settings: RedisSettings): RedisClient {
  return connect(settings, 'producer');
}

/** A connection of the same kind for a BullMQ worker's blocking commands, which must wait out outages. */
export function blockingConnection(redis: RedisClient): RedisClient {
  return redis instanceof Cluster ? redis.duplicate(undefined, { redisOptions: { ...redis.options.redisOptions, maxRetriesPerRequest: null } }) : redis.duplicate({ maxRetriesPerRequest: null });
}

/** Settings for one node at `url` (the demo's private server, tests). */
export function singleNode(url: string): RedisSettings {
  return { mode: 'single', url, tls: url.startsWith('rediss://') };
}

export class RedisUnavailableError extends LivequeueError {
  constructor(where: string, cause: unknown) {
    super('redis-unavailable', `Redis is not reachable (${where}): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }

  /** Over HTTP, without where Redis is. */
  override get httpMessage(): string {
    return 'Redis is not reachable; try again shortly';
  }
}

/** Resolves when the connection is ready, or rejects with a clear error within `timeoutMs`. */
export async function waitUntilReady(redis: RedisClient, settings: RedisSettings, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new RedisUnavailableError(describeRedis(settings), lastError ?? new Error(`no answer within ${timeoutMs} ms`))), timeoutMs);
    let lastError: unknown;
    const onError = (error: unknown) => {
      lastError = error;
    };
    const onReady = () => done();
    function done(error?: Error) {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      if (error) reject(error);
      else resolve();
    }
    redis.on('ready', onReady);
    redis.on('error', onError);
  });
}

/** Deletes every key under `prefix` (the demo's and the tests' own keys), on every master of a cluster. */
export async function deleteKeysWithPrefix(redis: RedisClient, prefix: string): Promise<void> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      // One key per command: on a cluster, keys of one scan may live in different slots.
      await Promise.all(keys.map((key) => redis.unlink(key)));
    } while (cursor !== '0');
  }
}
