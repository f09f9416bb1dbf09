import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { loadConfig, type Config } from '../../src/config.ts';
import { OPERATIONS, type Operation } from '../../src/catalog/operations.ts';
import { queueName } from '../../src/queue/names.ts';
import { selectedRuntime, type AccountRuntime } from '../../src/app/runtime.ts';
import type { EnqueueRecord } from '../../src/intake/enqueue.ts';
import { deleteKeysWithPrefix, workerConnection, type HostPort, type RedisClient } from '../../src/redis.ts';
import { LiveApiSimulator, type LiveApiSimulatorOptions } from '../../src/sim/index.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const ACCESS_KEY_ID = 'bench-access-key';
export const ACCESS_KEY_SECRET = randomBytes(18).toString('base64url');
/** Worker processes run compiled (`npm run build`), as they are deployed. */
export const BASELINE_WORKER = 'dist/bench/baseline-worker.js';
export const LIVEQUEUE_WORKER = 'dist/workers/worker.js';
export const COMPILED_CLI = 'dist/src/cli/main.js';

/**
 * The systems compared: stock BullMQ with its fixed-window limiter as the
 * docs show it (`{ max: QPS, duration: 1000 }`), stock BullMQ spacing calls
 * evenly (`{ max: 1, duration: 1000 / QPS }`, its best setup for a strict
 * rolling second), and livequeue.
 */
export type System = 'baseline' | 'spaced' | 'livequeue';
export const STOCK_SYSTEMS = ['baseline', 'spaced'] as const;

/** One measured run: its own simulator and its own Redis keys. */
export interface Run {
  system: System;
  sim: LiveApiSimulator;
  endpoint: string;
  prefix: string;
  redis: RedisClient;
  config: Config;
  runtime: AccountRuntime;
  workerEnv(extra?: Record<string, string>): Record<string, string>;
  enqueue(operation: Operation, records: EnqueueRecord[]): Promise<void>;
  /** Jobs not yet finished (waiting, delayed, active), over both operations. */
  pending(): Promise<number>;
  /** Jobs given up: livequeue's dead letters, stock BullMQ's failed set. */
  givenUp(): Promise<number>;
  close(): Promise<void>;
}

export interface RunOptions {
  /** Run on this Redis Cluster instead of the single node at REDIS_URL. */
  cluster?: readonly HostPort[];
}

export async function newRun(system: System, sim: LiveApiSimulatorOptions = {}, env: Record<string, string> = {}, options: RunOptions = {}): Promise<Run> {
  const simulator = new LiveApiSimulator({ accessKeys: { [ACCESS_KEY_ID]: ACCESS_KEY_SECRET }, callLogLimit: 1_000_000, ...sim });
  const endpoint = await simulator.start();
  const name = `lqbench-${system}-${randomBytes(3).toString('hex')}`;
  // On a cluster every key of the run shares one slot through the prefix's hash tag.
  const prefix = options.cluster ? `{${name}}` : name;
  const redisEnv: Record<string, string> = options.cluster ? { REDIS_CLUSTER_NODES: options.cluster.map((n) => `${n.host}:${n.port}`).join(',') } : { REDIS_URL };
  const config = loadConfig({ ...redisEnv, QUEUE_PREFIX: prefix, LIVE_ENDPOINT: endpoint, LOG_LEVEL: 'warn', ...env });
  const redis = workerConnection(config.redis);
  const runtime = selectedRuntime(redis, config);
  const { intake } = runtime;
  const queues = Object.fromEntries(OPERATIONS.map((op) => [op, new Queue(queueName(op), { connection: redis, prefix })])) as Record<Operation, Queue>;
  return {
    system,
    sim: simulator,
    endpoint,
    prefix,
    redis,
    config,
    runtime,
    workerEnv: (extra = {}) => ({
      ...redisEnv, QUEUE_PREFIX: prefix, LIVE_ENDPOINT: endpoint, LOG_LEVEL: 'warn',
      ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET,
      FORBID_QPS: String(runtime.settings.qps.ForbidLiveStream), STOP_MONITOR_QPS: String(runtime.settings.qps.StopLiveStreamMonitor),
      // For the stock workers: which limiter, and the same retry schedule as livequeue's.
      BASELINE_LIMITER: system === 'spaced' ? 'spaced' : 'window',
      RETRY_BASE_DELAY_MS: String(config.retry.baseDelayMs), RETRY_MAX_DELAY_MS: String(config.retry.maxDelayMs),
      ...env, ...extra,
    }),
    async enqueue(operation, records) {
      for (let i = 0; i < records.length; i += 1000) {
        const chunk = records.slice(i, i + 1000);
        if (system === 'livequeue') {
          await intake.add(operation, chunk);
        } else {
          // Stock BullMQ: the same payloads, a limiter in the worker, BullMQ's own
          // retries with livequeue's attempts and capped exponential schedule
          // (a custom backoff strategy in the worker).
          await queues[operation].addBulk(chunk.map((r) => ({
            name: operation,
            data: r.params,
            opts: { attempts: config.retry.attempts, backoff: { type: 'capped-exponential' }, removeOnComplete: true, priority: r.priority === 'urgent' ? 1 : 2 },
          })));
        }
      }
    },
    async pending() {
      if (system === 'livequeue') {
        const rows = await runtime.status();
        return rows.reduce((n, r) => n + r.waiting + r.delayed + r.active, 0);
      }
      const counts = await Promise.all(OPERATIONS.map((op) => queues[op].getJobCounts('wait', 'prioritized', 'delayed', 'active')));
      return counts.reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);
    },
    async givenUp() {
      if (system === 'livequeue') {
        const rows = await runtime.status();
        return rows.reduce((n, r) => n + r.deadLettered, 0);
      }
      const counts = await Promise.all(OPERATIONS.map((op) => queues[op].getFailedCount()));
      return counts.reduce((a, b) => a + b, 0);
    },
    async close() {
      await runtime.close();
      await Promise.all(OPERATIONS.map((op) => queues[op].close()));
      await simulator.stop();
      await deleteKeysWithPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

export function bans(n: number, tag: string, extra: Record<string, string> = {}): EnqueueRecord[] {
  return Array.from({ length: n }, (_, i) => ({ params: { DomainName: 'demo.aliyundoc.com', AppName: 'bench', StreamName: `${tag}-${i}`, Oneshot: 'yes', LiveStreamType: 'publisher', ...extra } }));
}

export function monitorStops(sim: LiveApiSimulator, n: number): EnqueueRecord[] {
  return sim.createMonitors(n).map((MonitorId) => ({ params: { MonitorId } }));
}
