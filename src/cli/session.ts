import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { producerConnection, waitUntilReady } from '../redis.ts';

/** A short-lived Redis connection for one command, failing fast and clearly when Redis is down. */
export async function withRedis<T>(config: Config, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = producerConnection(config.redisUrl);
  redis.on('error', () => {
    // Reported through waitUntilReady or the failing command; ioredis would otherwise print it.
  });
  try {
    await waitUntilReady(redis, config.redisUrl);
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}
