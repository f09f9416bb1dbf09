import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectedRuntime, type AccountRuntime } from '../src/app/runtime.ts';
import { createLogger } from '../src/log.ts';
import { jobId, queueName } from '../src/queue/names.ts';
import { FailedSweep } from '../src/worker/failed-sweep.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { newRedis, REDIS_URL } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Nothing stuck: a job left in BullMQ's failed set (its worker died between
 * the failure and the move to the dead-letter queue) must not block its
 * stream. The failed job is put there the way a killed worker leaves it: a
 * plain BullMQ worker takes it and fails it, and no livequeue handler runs.
 */
const DOMAIN = 'demo.aliyundoc.com';
const REASON = 'worker killed between the failure and the dead-letter move';
let h: Harness;
let env: Record<string, string>;
let worker: RunningProcess | undefined;
const redis = newRedis();

beforeAll(async () => {
  h = await startHarness('failed-leftovers');
  env = { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LIVE_ENDPOINT: h.endpoint, ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'warn' };
});
afterAll(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.exited;
  await h.close();
  redis.disconnect();
});

const ban = (stream: string) => ({ DomainName: DOMAIN, AppName: 'liveApp', StreamName: stream });
const idOf = (stream: string) => jobId('ForbidLiveStream', 'default', { ...ban(stream), LiveStreamType: 'publisher' });
const forbidQueue = () => h.producer.queue('ForbidLiveStream');

/** Enqueues bans under a batch and leaves each job in the failed set, as a worker killed after the failure would. */
async function leaveFailed(batch: string, streams: string[]): Promise<void> {
  await h.runtime.batches.record(batch, 'ForbidLiveStream', []);
  const results = await h.intake.add('ForbidLiveStream', streams.map((s) => ({ params: ban(s), priority: 'urgent' as const })), batch);
  await h.runtime.batches.record(batch, 'ForbidLiveStream', results.map((r) => (r as { jobId: string }).jobId));
  const plain = new Worker(queueName('ForbidLiveStream'), null, { connection: redis, prefix: h.runtime.prefix });
  try {
    for (let i = 0; i < streams.length; i++) {
      const job = await plain.getNextJob('dying-worker');
      await job!.moveToFailed(new UnrecoverableError(REASON), 'dying-worker');
    }
  } finally {
    await plain.close();
  }
  for (const stream of streams) expect(await forbidQueue().getJobState(idOf(stream))).toBe('failed');
}

describe('a job left in the failed set', () => {
  it('does not make a new enqueue of its stream a duplicate; it is dead-lettered first, and replay says what it re-queued', async () => {
    await leaveFailed('first', ['left-1']);
    const id = idOf('left-1');

    const enqueue = await runCli(['enqueue', 'forbid', '--file', '-', '--batch', 'second', '--json'], env, JSON.stringify(ban('left-1')));
    expect(JSON.parse(enqueue.stdout)).toMatchObject({ enqueued: 1, duplicates: 0 });
    expect(await forbidQueue().getJobState(id)).toBe('prioritized');
    // Nothing lost: the failure is on record, and its batch knows how its job ended.
    expect(await h.deadLetters.list({ ids: [id] })).toMatchObject([{ reason: 'worker-failure', code: 'WorkerFailure', message: REASON, params: ban('left-1') }]);
    expect(await h.runtime.batches.show('first')).toMatchObject({ jobs: 1, deadLettered: 1, waiting: 0, superseded: 1 });
    expect(await h.runtime.batches.show('second')).toMatchObject({ jobs: 1, waiting: 1 });

    // The stream is queued again: replaying its entry would re-queue nothing, and says so.
    const replay = await runCli(['dlq', 'replay', '--id', id], env);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain('replayed 0 entries\n');
    expect(replay.stdout).toContain(`not replayed, left in the dead-letter queue: 1 entry whose job is queued again already (the same stream or monitor, enqueued since); that job does the work: ${id}`);
    expect(await h.deadLetters.count()).toBe(1);
    expect(await forbidQueue().getJobState(id)).toBe('prioritized');
    await h.runtime.batches.cancelAll(1, undefined, { actor: 'test' });
    await h.deadLetters.purge({});
  });

  it('is moved once when two processes sweep at once', async () => {
    const streams = Array.from({ length: 12 }, (_, i) => `twice-${i}`);
    await leaveFailed('twice', streams);
    const other = newRedis();
    const elsewhere: AccountRuntime = selectedRuntime(other, h.config);
    const log = createLogger('silent');
    try {
      const sweeps = [new FailedSweep(h.deadLetters, (op) => h.runtime.queue(op), log), new FailedSweep(elsewhere.deadLetters, (op) => elsewhere.queue(op), log)];
      const moved = await Promise.all(sweeps.map((s) => s.sweep()));
      expect(moved[0]! + moved[1]!).toBe(12);
      expect(await forbidQueue().getFailedCount()).toBe(0);
      expect(await h.deadLetters.count()).toBe(12);
      expect((await h.deadLetters.list()).map((e) => e.id).sort()).toEqual(streams.map(idOf).sort());
      expect(await h.runtime.batches.show('twice')).toMatchObject({ jobs: 12, deadLettered: 12 });
    } finally {
      await elsewhere.close();
      other.disconnect();
    }
    await h.deadLetters.purge({});
  });

  it('is swept to the dead-letter queue by `livequeue worker`; a replay then runs it', async () => {
    await leaveFailed('swept', ['left-2']);
    const id = idOf('left-2');
    worker = startCli(['worker'], { ...env, LOG_LEVEL: 'info', METRICS_PORT: '0' });
    await waitForOutput(worker, (o) => o.includes('job failed outside the processor; dead-lettered'));
    expect(await forbidQueue().getFailedCount()).toBe(0);
    expect(await h.deadLetters.list({ ids: [id] })).toMatchObject([{ reason: 'worker-failure', code: 'WorkerFailure', message: REASON }]);

    const replay = await runCli(['dlq', 'replay', '--id', id, '--json'], env);
    expect(JSON.parse(replay.stdout)).toMatchObject({ replayed: 1, alreadyQueued: [], notFound: [] });
    const sim = h.sim;
    await waitFor(() => sim.isBlacklisted(DOMAIN, 'liveApp', 'left-2'), 15_000, 'the replayed ban applied');
    expect(await h.deadLetters.count()).toBe(0);
    // Replayed under the batch that enqueued it: the batch learns it applied in the end.
    await waitFor(async () => (await h.runtime.batches.show('swept')).applied === 1, 10_000, 'batch "swept" applied');
  });
});
