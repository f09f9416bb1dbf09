import { randomBytes } from 'node:crypto';
import { AuditTrail } from '../../src/ledger/audit.ts';
import { newBatchId } from '../../src/jobs/batch-id.ts';
import { auditKey, batchKeys, jobBatchKey, jobId } from '../../src/queue/names.ts';
import { deleteKeysWithPrefix, workerConnection, type RedisClient } from '../../src/redis.ts';
import { singleNode } from '../../src/redis.ts';
import type { ResultRow } from '../lib/result.ts';
import { REDIS_URL } from '../lib/setup.ts';
import { overheadDrain } from './overhead.ts';

const RETENTION = { retentionMs: 90 * 86_400_000, maxEntries: 10_000_000 };
const ACCOUNT = 'default';
/** A ban's outcome as a worker records it: its job id is the stream's, its batch an enqueue's with an actor and a reason. */
const outcome = (stream: string, i: number) => {
  const params = { DomainName: 'live.example.com', AppName: 'liveApp', StreamName: stream, LiveStreamType: 'publisher' as const };
  return {
    operation: 'ForbidLiveStream' as const,
    subject: { stream: `live.example.com/liveApp/${stream}` },
    jobId: jobId('ForbidLiveStream', ACCOUNT, params),
    outcome: 'applied' as const,
    requestId: `5E2B${i.toString(16).padStart(4, '0')}-1A2B-3C4D-5E6F-${i.toString(16).padStart(12, '0')}`,
    attempts: 1,
  };
};

/** Writes `n` outcomes, `perStream` about each stream, each tied to one batch, a few thousand in flight at a time. */
async function writeOutcomes(redis: RedisClient, trail: AuditTrail, prefix: string, n: number, perStream: number): Promise<void> {
  const batch = newBatchId();
  await redis.hset(batchKeys(prefix, batch).meta, { operation: 'ForbidLiveStream', actor: 'moderation-bot', reason: 'policy 4.2: hate speech' });
  for (let i = 0; i < n; i += 2000) {
    const records = Array.from({ length: Math.min(2000, n - i) }, (_, j) => outcome(`s-${Math.floor((i + j) / perStream)}`, i + j));
    const ties = redis.pipeline();
    for (const record of records) ties.set(jobBatchKey(prefix, record.jobId), batch);
    await ties.exec();
    await Promise.all(records.map((record) => trail.outcome(record)));
    // The tie ends with the job (batch-ledger.lua): it is not the trail's to count.
    await redis.del(...records.map((record) => jobBatchKey(prefix, record.jobId)));
  }
}

/** Redis bytes per outcome: the trail and every stream's index, over `n` outcomes of distinct streams. */
async function bytesPerOutcome(redis: RedisClient, prefix: string, n: number): Promise<number> {
  const trail = new AuditTrail(redis, prefix, ACCOUNT, RETENTION);
  await writeOutcomes(redis, trail, prefix, n, 1);
  let bytes = Number(await redis.memory('USAGE', auditKey(prefix), 'SAMPLES', 0));
  for (let cursor = '0'; ;) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:audit-heads:*`, 'COUNT', 1000);
    for (const key of keys) bytes += Number(await redis.memory('USAGE', key));
    cursor = next;
    if (cursor === '0') break;
  }
  return bytes / n;
}

/** history() of a stream with 50 records among `total`: p50 and p99 over 200 reads. */
async function historyLatency(redis: RedisClient, prefix: string, total: number): Promise<{ p50: number; p99: number }> {
  const trail = new AuditTrail(redis, prefix, ACCOUNT, RETENTION);
  await writeOutcomes(redis, trail, prefix, total, 50);
  const subject = { stream: `live.example.com/liveApp/s-${Math.floor(total / 100)}` };
  if ((await trail.history(subject)).length !== 50) throw new Error('history: expected 50 records');
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await trail.history(subject);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: times[100]!, p99: times[197]! };
}

export async function auditScenario(jobs: number, records: number): Promise<ResultRow[]> {
  const off = await overheadDrain('livequeue', jobs, undefined, { AUDIT_OUTCOMES: 'off' });
  const on = await overheadDrain('livequeue', jobs);
  const redis = workerConnection(singleNode(REDIS_URL));
  const prefix = `bench-audit-${randomBytes(3).toString('hex')}`;
  try {
    // The heads' buckets are shared by more streams as there are more: the cost per outcome falls with scale.
    const bytes = await bytesPerOutcome(redis, `${prefix}-bytes`, 10_000);
    const bytesAtScale = await bytesPerOutcome(redis, `${prefix}-scale`, 100_000);
    const latency = await historyLatency(redis, `${prefix}-history`, records);
    const drain = 'audit trail: queue overhead (2,000 QPS, latency 0) with outcomes audited (livequeue) and AUDIT_OUTCOMES=off (baseline column)';
    const store = `audit trail: ${records.toLocaleString('en')} records, one stream with 50`;
    return [
      { scenario: drain, measure: 'jobs/s', baseline: off.jobsPerSecond, livequeue: on.jobsPerSecond, unit: 'jobs/s', target: '>= 0.95 × without', met: on.jobsPerSecond >= 0.95 * off.jobsPerSecond },
      { scenario: drain, measure: 'worker CPU per job', baseline: off.cpuMsPerJob, livequeue: on.cpuMsPerJob, unit: 'ms', target: 'report', met: true },
      { scenario: 'audit trail: Redis memory per outcome (trail + the streams\' heads), 10,000 streams, each ban in a batch with an actor and a reason', measure: 'bytes', baseline: null, livequeue: bytes, unit: 'B', target: '<= 300', met: bytes <= 300 },
      { scenario: 'audit trail: Redis memory per outcome (trail + the streams\' heads), 100,000 streams, each ban in a batch with an actor and a reason', measure: 'bytes', baseline: null, livequeue: bytesAtScale, unit: 'B', target: '<= 300', met: bytesAtScale <= 300 },
      { scenario: store, measure: 'history p50', baseline: null, livequeue: latency.p50, unit: 'ms', target: '<= 20', met: latency.p50 <= 20 },
      { scenario: store, measure: 'history p99', baseline: null, livequeue: latency.p99, unit: 'ms', target: '<= 20', met: latency.p99 <= 20 },
    ];
  } finally {
    // Each measure writes under a prefix of its own: remove both.
    for (const measure of ['bytes', 'scale', 'history']) await deleteKeysWithPrefix(redis, `${prefix}-${measure}`);
    redis.disconnect();
  }
}
