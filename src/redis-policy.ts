import { Cluster, type Redis } from 'ioredis';
import type { Logger } from './log.ts';
import { describeRedis, type RedisClient, type RedisSettings } from './redis.ts';

/**
 * Redis's `maxmemory-policy`. BullMQ requires `noeviction`: under any other
 * policy a full Redis deletes keys to make room, and the keys it picks can be
 * queued jobs, their locks, the rate-limit buckets or the dead letters, gone
 * without an error anywhere. With `noeviction` a full Redis refuses writes
 * instead, which every producer and worker reports.
 */
export const REQUIRED_POLICY = 'noeviction';

/** A policy name as Redis gives it, or "unknown" when Redis would not say. */
export type MaxmemoryPolicy = string;

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

/** What to say about a policy other than noeviction: one line, naming it and what to set. */
export function evictionWarning(policy: MaxmemoryPolicy): string {
  return policy === 'unknown'
    ? `could not read Redis's maxmemory-policy (CONFIG GET and INFO refused): make sure it is ${REQUIRED_POLICY}, or a full Redis may delete queued jobs`
    : `Redis maxmemory-policy is ${policy}, not ${REQUIRED_POLICY}: when Redis is full it deletes keys, and queued jobs, their locks and the rate-limit buckets can vanish without an error. ` +
        `Set maxmemory-policy ${REQUIRED_POLICY} (redis.conf, CONFIG SET, or the provider's parameter settings); BullMQ requires it`;
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
