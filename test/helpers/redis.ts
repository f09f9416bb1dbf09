import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A unique key prefix per test, so suites never see each other's keys. */
export function uniquePrefix(name: string): string {
  return `lqtest-${name}-${randomBytes(4).toString('hex')}`;
}

export function testConfig(prefix: string, env: Record<string, string> = {}): Config {
  return loadConfig({ REDIS_URL, QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent', ...env });
}

export { deleteKeysWithPrefix as deleteKeys } from '../../src/redis.ts';

export function newRedis(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}
