/**
 * livequeue as a library: the package's entry point (`import { createLivequeue } from 'livequeue'`).
 * It enqueues with the same checks, batches and job ids as the CLI and the
 * HTTP API; workers run as `livequeue worker`.
 */
import { selectedRuntime, type AccountRuntime } from './app/runtime.ts';
import { loadConfig, type Config } from './config.ts';
import type { FieldError } from './jobs/schemas.ts';
import { OPERATIONS, type Operation } from './catalog/operations.ts';
import { LivequeueError } from './errors.ts';
import { newBatchId } from './batches/batches.ts';
import type { BlacklistWarning } from './blacklist/headroom.ts';
import type { Priority } from './queue/job-options.ts';
import type { OperationStatus } from './ledger/status.ts';
import { blockingConnection, producerConnection, waitUntilReady, type RedisClient } from './redis.ts';
import { hostname, userInfo } from 'node:os';
import type { Actor, AuditRecord } from './ledger/audit.ts';
import { followTrail, isEvent } from './ledger/audit-follow.ts';

export type { Config, FieldError, Operation, OperationStatus, Priority };
export { loadConfig };

export interface EnqueueOptions {
  priority?: Priority;
  /** Record the jobs under this batch id (`livequeue batch show|cancel|undo`); a new one by default. */
  batch?: string;
  /** Why: kept with the batch and in the audit trail (`livequeue history`). */
  reason?: string;
  /** A ticket or case number beside the reason. */
  ticket?: string;
  /** Who enqueues (default: the actor given to createLivequeue, else `library:<user>@<host>`). */
  actor?: string;
}

export interface EnqueueSummary {
  batch: string;
  enqueued: number;
  /** Already pending under the same job id: not enqueued twice. */
  duplicates: number;
  /** Records refused, by their index in the input, with the field and the rule. */
  invalid: { index: number; errors: FieldError[] }[];
  /** The bans exceed the blacklist's last known headroom: they are enqueued and wait for room. */
  blacklistWarning?: BlacklistWarning;
}

export interface Livequeue {
  /** Ban streams: ForbidLiveStream parameters, one object or many. */
  forbid(jobs: object | readonly object[], options?: EnqueueOptions): Promise<EnqueueSummary>;
  /** Stop monitoring sessions: `{ MonitorId }`, one or many. */
  stopMonitor(jobs: object | readonly object[], options?: EnqueueOptions): Promise<EnqueueSummary>;
  /** Lift bans: `{ DomainName, AppName, StreamName }`, one or many (a batch's undo does it for a whole batch). */
  resume(jobs: object | readonly object[], options?: EnqueueOptions): Promise<EnqueueSummary>;
  /** Any operation of the catalog by its API name, as the methods above do. */
  enqueue(operation: Operation, jobs: object | readonly object[], options?: EnqueueOptions): Promise<EnqueueSummary>;
  /**
   * Job outcomes and finished batches as they happen, read from the audit
   * trail (as `GET /v1/events` sends them). From now on, or after the event
   * id `after` (a reconnecting consumer misses nothing within
   * AUDIT_RETENTION_DAYS). Each iterator holds a Redis connection of its own
   * until it is left (`break`) or close() is called.
   */
  events(filter?: EventFilter): AsyncIterableIterator<LivequeueEvent>;
  /** Per operation: counts, outcomes, the bucket's rates, any hold. */
  status(): Promise<OperationStatus[]>;
  close(): Promise<void>;
}

export interface EventFilter {
  batch?: string;
  operation?: Operation;
  /** The id of the last event handled: the iterator starts after it. */
  after?: string;
}

export interface LivequeueEvent {
  /** The event's id in the audit trail: `after` resumes from it. */
  id: string;
  type: 'outcome' | 'batch.done';
  /** The audit record: operation, stream or monitorId, jobId, outcome, code, requestId, attempts, batch, actor, reason…; for batch.done, batch and counts. */
  data: Omit<AuditRecord, 'kind'>;
}

export interface CreateOptions {
  /** Who this producer is, for the audit trail (a service's name); default `library:<user>@<host>`. */
  actor?: string;
  /** The configuration; by default read from `env` (process.env), as the CLI reads it. */
  config?: Config;
  env?: Record<string, string | undefined>;
}

/** Connects (failing with a clear error when Redis does not answer) and returns the account's producer API. */
export async function createLivequeue(options: CreateOptions = {}): Promise<Livequeue> {
  const config = options.config ?? loadConfig(options.env ?? process.env);
  const redis = await connect(config);
  const runtime: AccountRuntime = selectedRuntime(redis, config);
  runtime.onQueueError(() => {});
  const enqueue = enqueuer(runtime, options.actor ?? `library:${userInfo().username}@${hostname()}`);
  const followers = new Set<() => void>();
  return {
    forbid: (jobs, opts) => enqueue('ForbidLiveStream', jobs, opts),
    stopMonitor: (jobs, opts) => enqueue('StopLiveStreamMonitor', jobs, opts),
    resume: (jobs, opts) => enqueue('ResumeLiveStream', jobs, opts),
    enqueue,
    events: (filter) => follow(redis, runtime, followers, filter),
    status: () => runtime.status(),
    async close() {
      for (const stop of followers) stop();
      await runtime.close();
      redis.disconnect();
    },
  };
}

async function connect(config: Config): Promise<RedisClient> {
  const redis: RedisClient = producerConnection(config.redis);
  redis.on('error', () => {
    // Reported by the failing call; ioredis would otherwise print every reconnect.
  });
  try {
    await waitUntilReady(redis, config.redis);
    return redis;
  } catch (error) {
    redis.disconnect();
    throw error;
  }
}

/** The intake as the library offers it: one call, one batch, a summary by index. */
function enqueuer(runtime: AccountRuntime, defaultActor: string): Livequeue['enqueue'] {
  return async (operation, jobs, opts = {}) => {
    // A caller without the types may pass anything.
    if (!(OPERATIONS as readonly string[]).includes(operation)) throw new LivequeueError('usage', `operation must be one of ${OPERATIONS.join(', ')} (got ${JSON.stringify(operation)})`);
    const list = Array.isArray(jobs) ? jobs : [jobs];
    const batch = opts.batch ?? newBatchId();
    const priority = opts.priority ?? 'normal';
    const by: Actor = { actor: opts.actor ?? defaultActor, ...(opts.reason !== undefined ? { reason: opts.reason } : {}), ...(opts.ticket !== undefined ? { ticket: opts.ticket } : {}) };
    const { results, blacklistWarning } = await runtime.intake.enqueue(operation, list.map((params) => ({ params, priority })), batch, by);
    const invalid = results.flatMap((result, index) => (result.status === 'invalid' ? [{ index, errors: result.errors }] : []));
    const count = (status: string) => results.filter((r) => r.status === status).length;
    return { batch, enqueued: count('enqueued'), duplicates: count('duplicate'), invalid, ...(blacklistWarning ? { blacklistWarning } : {}) };
  };
}

/** Follows the audit trail on a connection of its own, stopped when left or when the library closes. */
async function* follow(redis: RedisClient, runtime: AccountRuntime, followers: Set<() => void>, filter: EventFilter = {}): AsyncGenerator<LivequeueEvent> {
  const connection = blockingConnection(redis);
  connection.on('error', () => {});
  let stopped = false;
  const stop = () => {
    stopped = true;
    connection.disconnect();
  };
  followers.add(stop);
  try {
    for await (const page of followTrail(connection, runtime.audit, filter.after, () => stopped)) {
      for (const { kind, ...data } of page.filter((record) => isEvent(record, filter))) yield { id: data.id, type: kind === 'outcome' ? 'outcome' : 'batch.done', data };
    }
  } finally {
    followers.delete(stop);
    stop();
  }
}
