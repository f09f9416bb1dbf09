import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../src/config.ts';
import { AlibabaLiveClient, staticCredential, type Credential } from '../../src/live/client.ts';
import { OPERATIONS, type Operation } from '../../src/catalog/operations.ts';
import { createLogger } from '../../src/log.ts';
import { selectedRuntime, type AccountRuntime } from '../../src/app/runtime.ts';
import type { DeadLetterQueue } from '../../src/ledger/dead-letter.ts';
import { queueName } from '../../src/queue/names.ts';
import type { Producer } from '../../src/queue/producer.ts';
import type { Intake } from '../../src/intake/enqueue.ts';
import { accountWorkers } from '../../src/app/account-workers.ts';
import type { JobOutcome } from '../../src/worker/processor.ts';
import type { OperationStatus } from '../../src/ledger/status.ts';
import { LiveApiSimulator, type LiveApiSimulatorOptions } from '../../src/sim/index.ts';
import type { LiveWorkers } from '../../src/worker/worker.ts';
import { deleteKeys, REDIS_URL, testConfig, uniquePrefix } from './redis.ts';

export const ACCESS_KEY_ID = 'test-access-key-id';
export const ACCESS_KEY_SECRET = 'test-secret-Zq8vK2mN4pR7sT1w';

/** Short retries so the retry paths finish in test time. */
export const FAST_RETRIES = { RETRY_ATTEMPTS: '4', RETRY_BASE_DELAY_MS: '20', RETRY_MAX_DELAY_MS: '100' };

export interface Harness {
  sim: LiveApiSimulator;
  endpoint: string;
  config: Config;
  redis: Redis;
  runtime: AccountRuntime;
  producer: Producer;
  intake: Intake;
  deadLetters: DeadLetterQueue;
  workers?: LiveWorkers;
  /** `credential` replaces the simulator's AccessKey pair (`accessKeySecret` only changes its secret). */
  startWorkers(options?: { operations?: Operation[]; concurrency?: number; accessKeySecret?: string; credential?: Credential }): LiveWorkers;
  status(): Promise<OperationStatus[]>;
  /** Waits until no job is waiting, delayed or active and `expected` jobs have an outcome. */
  drained(expected: number, timeoutMs?: number): Promise<OperationStatus[]>;
  /** The processor's result for a job, from BullMQ's completed event. */
  outcome(jobId: string, timeoutMs?: number): Promise<JobOutcome>;
  close(): Promise<void>;
}

export async function startHarness(name: string, env: Record<string, string> = {}, sim: LiveApiSimulatorOptions = {}): Promise<Harness> {
  const simulator = new LiveApiSimulator({ accessKeys: { [ACCESS_KEY_ID]: ACCESS_KEY_SECRET }, ...sim });
  const endpoint = await simulator.start();
  const prefix = uniquePrefix(name);
  const config = testConfig(prefix, { LIVE_ENDPOINT: endpoint, ...env });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const runtime = selectedRuntime(redis, config);
  const { producer, deadLetters } = runtime;
  const outcomes = new Map<string, JobOutcome>();
  const events = OPERATIONS.map((op) => {
    const queueEvents = new QueueEvents(queueName(op), { connection: { url: REDIS_URL }, prefix: runtime.prefix });
    queueEvents.on('completed', ({ jobId, returnvalue }) => outcomes.set(jobId, returnvalue as unknown as JobOutcome));
    return queueEvents;
  });
  await Promise.all(events.map((e) => e.waitUntilReady()));
  const harness: Harness = {
    sim: simulator,
    endpoint,
    config,
    redis,
    runtime,
    producer,
    intake: runtime.intake,
    deadLetters,
    startWorkers(options = {}) {
      const workers = accountWorkers(runtime, {
        log: createLogger('silent'),
        live: new AlibabaLiveClient({ ...config.live, regionId: runtime.settings.region, credential: options.credential ?? staticCredential(ACCESS_KEY_ID, options.accessKeySecret ?? ACCESS_KEY_SECRET) }),
        operations: options.operations,
        concurrency: options.concurrency,
      });
      workers.start();
      harness.workers = workers;
      return workers;
    },
    status: () => runtime.status(),
    async drained(expected, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = await runtime.status();
        const done = rows.reduce((n, r) => n + r.applied + r.alreadyApplied + r.deadLettered, 0);
        const pending = rows.reduce((n, r) => n + r.waiting + r.delayed + r.active, 0);
        if (done >= expected && pending === 0) return rows;
        if (Date.now() > deadline) throw new Error(`not drained after ${timeoutMs} ms: ${JSON.stringify(rows)}`);
        await sleep(50);
      }
    },
    async outcome(jobId, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!outcomes.has(jobId)) {
        if (Date.now() > deadline) throw new Error(`job ${jobId} did not complete within ${timeoutMs} ms`);
        await sleep(20);
      }
      return outcomes.get(jobId)!;
    },
    async close() {
      await harness.workers?.close();
      await Promise.all(events.map((e) => e.close()));
      await runtime.close();
      await simulator.stop();
      await deleteKeys(redis, prefix);
      redis.disconnect();
    },
  };
  return harness;
}

export function statusOf(rows: OperationStatus[], operation: Operation): OperationStatus {
  return rows.find((r) => r.operation === operation)!;
}

export { OPERATIONS };
