import { Redis } from 'ioredis';
import { redactUrl } from './redact.ts';

export { redactUrl };

/**
 * Connections for the two kinds of users. Workers block on Redis and must
 * ride out restarts, so their commands wait for a reconnect (BullMQ requires
 * this). Producers answer a person or a service, so a command fails fast with
 * a clear error when Redis is down instead of hanging.
 */
export function workerConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}

export function producerConnection(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 5_000,
    lazyConnect: false,
  });
}

export class RedisUnavailableError extends Error {
  constructor(url: string, cause: unknown) {
    super(`Redis is not reachable at ${redactUrl(url)}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'RedisUnavailableError';
  }
}


/** Resolves when the connection is ready, or rejects with a clear error within `timeoutMs`. */
export async function waitUntilReady(redis: Redis, url: string, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new RedisUnavailableError(url, lastError ?? new Error(`no answer within ${timeoutMs} ms`))), timeoutMs);
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

/** Deletes every key under `prefix` (the demo's and the tests' own keys), in batches. */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
