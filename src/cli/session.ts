import type { RedisClient } from '../redis.ts';
import type { AccountRuntime } from '../app/runtime.ts';
import type { Config } from '../config.ts';

// The Redis client and the account runtime (BullMQ, the queues) are loaded
// when a command first needs Redis: every command imports this module, and
// `--help`, `simulate` or a usage error never need either.

/** How long a command waits for Redis before it says Redis is not reachable. */
const CONNECT_TIMEOUT_MS = 2_000;

/** A short-lived Redis connection for one command, failing fast and clearly when Redis is down. */
export async function withRedis<T>(config: Config, use: (redis: RedisClient) => Promise<T>): Promise<T> {
  const { producerConnection, waitUntilReady } = await import('../redis.ts');
  const redis = producerConnection(config.redis);
  redis.on('error', () => {
    // Reported through waitUntilReady or the failing command; ioredis would otherwise print it.
  });
  try {
    await waitUntilReady(redis, config.redis, CONNECT_TIMEOUT_MS);
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

/** The runtime of the account the command acts on (--account, else the deployment's first), for one command. */
export async function withRuntime<T>(config: Config, use: (runtime: AccountRuntime) => Promise<T>): Promise<T> {
  return withRuntimes(config, [config.account], (runtimes) => use(runtimes[0]!));
}

/** Runtimes of the named accounts (every account when `names` is undefined), for one command. */
export async function withRuntimes<T>(config: Config, names: readonly string[] | undefined, use: (runtimes: AccountRuntime[]) => Promise<T>): Promise<T> {
  // Loaded while the connection is made: the two overlap.
  const loading = import('../app/runtime.ts');
  loading.catch(() => {
    // Awaited below once Redis answers; a command that fails to connect reports that instead.
  });
  return withRedis(config, async (redis) => {
    const { accountRuntimes } = await loading;
    const runtimes = accountRuntimes(redis, config, names);
    for (const runtime of runtimes) runtime.onQueueError(() => {});
    try {
      return await use(runtimes);
    } finally {
      await Promise.all(runtimes.map((r) => r.close()));
    }
  });
}
