// What livequeue needs of Redis's memory policy, and what it says otherwise: words only, no client, so the
// status table can say it without loading ioredis before the command line is parsed.

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

/** What to say about a policy other than noeviction: one line, naming it and what to set. */
export function evictionWarning(policy: MaxmemoryPolicy): string {
  return policy === 'unknown'
    ? `could not read Redis's maxmemory-policy (CONFIG GET and INFO refused): make sure it is ${REQUIRED_POLICY}, or a full Redis may delete queued jobs`
    : `Redis maxmemory-policy is ${policy}, not ${REQUIRED_POLICY}: when Redis is full it deletes keys, and queued jobs, their locks and the rate-limit buckets can vanish without an error. ` +
        `Set maxmemory-policy ${REQUIRED_POLICY} (redis.conf, CONFIG SET, or the provider's parameter settings); BullMQ requires it`;
}
