import { readFileSync } from 'node:fs';
import type { Result } from 'ioredis';
import type { RedisClient } from './redis.ts';

/**
 * Every Lua script of livequeue, as the Redis command it becomes: the file
 * (relative to src/, and to dist/src/ once built; the build copies these) and
 * how many of its arguments are keys. Like BullMQ's scripts, each is read from
 * disk once per process and defined once on each connection (`defineScripts`).
 */
export const SCRIPTS = {
  livequeueBucket: { file: 'ratelimit/bucket.lua', numberOfKeys: 2 },
  livequeueHold: { file: 'holds/hold.lua', numberOfKeys: 5 },
  livequeueHostFaults: { file: 'holds/host-faults.lua', numberOfKeys: 2 },
  livequeueStats: { file: 'ledger/stats.lua', numberOfKeys: 2 },
  livequeueBatchLedger: { file: 'ledger/batch-ledger.lua', numberOfKeys: 2 },
  livequeueCancel: { file: 'ledger/cancel.lua', numberOfKeys: 1 },
  livequeueUndoClaim: { file: 'ledger/undo-claim.lua', numberOfKeys: 1 },
  livequeueRemoveFinished: { file: 'ledger/remove-finished.lua', numberOfKeys: 2 },
  livequeueReleaseLease: { file: 'ledger/release-lease.lua', numberOfKeys: 1 },
  livequeueAudit: { file: 'ledger/audit.lua', numberOfKeys: 3 },
  livequeueAuditHistory: { file: 'ledger/audit-history.lua', numberOfKeys: 2 },
} as const satisfies Record<string, { file: string; numberOfKeys: number }>;

export type ScriptName = keyof typeof SCRIPTS;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    livequeueBucket(key: string, overrideKey: string, ...args: (string | number)[]): Result<unknown, Context>;
    livequeueHold(hold: string, streak: string, streakJobs: string, streakTargets: string, lastSuccess: string, ...args: (string | number)[]): Result<unknown, Context>;
    livequeueHostFaults(faults: string, lastSuccess: string, ...args: (string | number)[]): Result<unknown, Context>;
    livequeueStats(statsKey: string, callsKey: string, counter: string, called: string, ttlMs: number, sentAgoMs: number): Result<number, Context>;
    livequeueBatchLedger(tieKey: string, ownerKey: string, ...args: (string | number)[]): Result<[string | null, number, number], Context>;
    livequeueCancel(queueKeyPrefix: string, ...args: (string | number)[]): Result<string[], Context>;
    livequeueUndoClaim(undoKey: string, ...args: (string | number)[]): Result<string[], Context>;
    livequeueRemoveFinished(queueKeyPrefix: string, leaseKey: string, jobId: string, token: string): Result<string, Context>;
    livequeueReleaseLease(leaseKey: string, token: string): Result<number, Context>;
    livequeueAudit(stream: string, subjectHead: string, tie: string, ...args: (string | number)[]): Result<[string, string | null], Context>;
    livequeueAuditHistory(stream: string, subjectHead: string, field: string, limit: number): Result<[string, string[]][], Context>;
  }
}

let sources: Record<ScriptName, string> | undefined;

/** The scripts' text, read on first use and kept for the life of the process. */
function scriptSources(): Record<ScriptName, string> {
  sources ??= Object.fromEntries(
    Object.entries(SCRIPTS).map(([name, { file }]) => [name, readFileSync(new URL(`./${file}`, import.meta.url), 'utf8')]),
  ) as Record<ScriptName, string>;
  return sources;
}

const defined = new WeakSet<RedisClient>();

/**
 * Defines every livequeue command on a connection (one Redis, or a Cluster:
 * both send EVALSHA and fall back to EVAL). Calling it again for the same
 * connection does nothing; a command the connection has already is kept.
 */
export function defineScripts(redis: RedisClient): void {
  if (defined.has(redis)) return;
  const lua = scriptSources();
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
    if (typeof redis[name] !== 'function') redis.defineCommand(name, { numberOfKeys: SCRIPTS[name].numberOfKeys, lua: lua[name] });
  }
  defined.add(redis);
}
