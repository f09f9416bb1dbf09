import { Cluster, type Redis } from 'ioredis';
import { evictionWarning, REQUIRED_POLICY, type MaxmemoryPolicy } from './eviction-warning.ts';
import type { Logger } from './log.ts';
import { describeRedis, type RedisClient, type RedisSettings } from './redis.ts';

/**
 * One node's policy: CONFIG GET first; managed services often refuse CONFIG
 * (renamed, or denied by ACL), so INFO memory's `maxmemory_policy` next;
 * undefined when neither answers.
 */
async function policyOf(node: Redis | Cluster): Promise<string | undefined> {
  try {
    const reply = (await node.config('GET', 'maxmemory-policy')) as unknown;
    if (Array.isArray(reply) && typeof reply[1] === 'string' && reply[1] !== '') return reply[1];
  } catch {
    // Refused: try INFO.
  }
  try {
    const info = await node.info('memory');
    const match = /^maxmemory_policy:(\S+)/m.exec(info);
    if (match) return match[1];
  } catch {
    // Refused too.
  }
  return undefined;
}

/**
 * The policy of the Redis behind `redis`; on a cluster, of every master (the
 * first one that is not noeviction, if any). Never throws: "unknown" when
 * Redis refuses both ways of asking or does not answer.
 */
export async function readMaxmemoryPolicy(redis: RedisClient | undefined): Promise<MaxmemoryPolicy> {
  if (!redis) return 'unknown';
  // Before a cluster is ready it knows no masters: ask through it (one master) instead.
  const nodes = redis instanceof Cluster && redis.status === 'ready' ? redis.nodes('master') : [redis];
  const policies = await Promise.all(nodes.map((node) => policyOf(node).catch(() => undefined)));
  const known = policies.filter((p): p is string => p !== undefined);
  return known.find((p) => p !== REQUIRED_POLICY) ?? (known.length > 0 && known.length === policies.length ? REQUIRED_POLICY : 'unknown');
}

/**
 * Reads the policy once and logs it: a warning naming any policy but
 * noeviction, an info line otherwise. Never delays or fails the caller's
 * start-up (call it without awaiting): on a connection that waits for Redis,
 * it reports once Redis first answers; nothing after the connection is closed.
 */
export async function reportMaxmemoryPolicy(redis: RedisClient, settings: RedisSettings, log: Logger): Promise<void> {
  const policy = await readMaxmemoryPolicy(redis);
  if (redis.status === 'end') return;
  const fields = { policy, redis: describeRedis(settings) };
  if (policy === REQUIRED_POLICY) log.info(fields, `Redis maxmemory-policy is ${REQUIRED_POLICY}`);
  else log.warn(fields, evictionWarning(policy));
}
