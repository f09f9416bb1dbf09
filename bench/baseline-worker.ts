/**
 * The stock BullMQ baseline: a plain Worker with BullMQ's own fixed-window
 * limiter (`limiter: { max: QPS, duration: 1000 }`), making the same calls
 * through the same client. Failures are thrown so BullMQ retries them.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { AlibabaLiveClient, staticCredential } from '../src/live/client.ts';
import type { Operation } from '../src/live/operations.ts';
import { queueName } from '../src/queue/names.ts';

const env = process.env;
const operations = (env.OPERATIONS ?? 'ForbidLiveStream').split(',') as Operation[];
const qps: Record<Operation, number> = { ForbidLiveStream: Number(env.FORBID_QPS ?? 20), StopLiveStreamMonitor: Number(env.STOP_MONITOR_QPS ?? 10), ResumeLiveStream: Number(env.RESUME_QPS ?? 30) };
const limited = env.NO_LIMITER !== '1';
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
        ...(limited ? { limiter: { max: qps[operation], duration: 1000 } } : {}),
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
