/**
 * The stock BullMQ baseline: a plain Worker with BullMQ's own limiter, making
 * the same calls through the same client. BASELINE_LIMITER=window is the
 * fixed window the docs show (`{ max: QPS, duration: 1000 }`); spaced is one
 * call per 1000/QPS ms (`{ max: 1, duration: ceil(1000 / QPS) }`), stock
 * BullMQ's best setup against a strict rolling second. Failures are thrown so
 * BullMQ retries them, on livequeue's schedule: exponential from
 * RETRY_BASE_DELAY_MS, capped at RETRY_MAX_DELAY_MS.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { AlibabaLiveClient, staticCredential } from '../src/live/client.ts';
import type { Operation } from '../src/catalog/operations.ts';
import { queueName } from '../src/queue/names.ts';

const env = process.env;
const operations = (env.OPERATIONS ?? 'ForbidLiveStream').split(',') as Operation[];
const qps: Record<Operation, number> = { ForbidLiveStream: Number(env.FORBID_QPS ?? 20), StopLiveStreamMonitor: Number(env.STOP_MONITOR_QPS ?? 10), ResumeLiveStream: Number(env.RESUME_QPS ?? 30) };
const limited = env.NO_LIMITER !== '1';
const spaced = env.BASELINE_LIMITER === 'spaced';
const baseDelayMs = Number(env.RETRY_BASE_DELAY_MS ?? 1000);
const maxDelayMs = Number(env.RETRY_MAX_DELAY_MS ?? 300_000);
const live = new AlibabaLiveClient({
  endpoint: env.LIVE_ENDPOINT!,
  regionId: 'cn-shanghai',
  timeoutMs: 10_000,
  credential: staticCredential(env.ALIBABA_CLOUD_ACCESS_KEY_ID!, env.ALIBABA_CLOUD_ACCESS_KEY_SECRET!),
});
const connection = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });

const workers = operations.map(
  (operation) =>
    new Worker(
      queueName(operation),
      async (job) => {
        const result = await live.call(operation, job.data);
        if (!result.ok && !result.notSent && result.code !== 'ConfigAlreadyExists' && result.code !== 'StreamMonitorAlreadyStop') {
          throw new Error(result.code);
        }
      },
      {
        connection,
        prefix: env.QUEUE_PREFIX!,
        concurrency: Number(env.WORKER_CONCURRENCY ?? 16),
        ...(limited ? { limiter: spaced ? { max: 1, duration: Math.ceil(1000 / qps[operation]) } : { max: qps[operation], duration: 1000 } } : {}),
        settings: { backoffStrategy: (attemptsMade: number) => Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attemptsMade - 1)) },
      },
    ),
);
process.stdout.write('baseline workers started\n');

const stop = async () => {
  await Promise.all(workers.map((w) => w.close()));
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
