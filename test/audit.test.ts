import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../src/ledger/audit.ts';
import { createHash } from 'node:crypto';
import { auditHead, auditKey, jobId, legacyAuditSubjectKey } from '../src/queue/names.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Who banned this stream, why, and when: the audit trail records every act
 * and every final outcome, and `livequeue history` reads one stream's records
 * along its own chain of records. Through the CLI, with `livequeue worker` as users run it.
 */
const DOMAIN = 'demo.aliyundoc.com';
const APP = 'liveApp';
let h: Harness;
let env: Record<string, string>;
let worker: RunningProcess;

beforeAll(async () => {
  h = await startHarness('audit');
  env = { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LIVE_ENDPOINT: h.endpoint, ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'warn' };
  worker = startCli(['worker'], { ...env, LOG_LEVEL: 'info', METRICS_PORT: '0' });
  await waitForOutput(worker, (o) => o.includes('workers started'));
});
afterAll(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.exited;
  await h.close();
});

const jsonl = (...streams: string[]) => streams.map((s) => JSON.stringify({ DomainName: DOMAIN, AppName: APP, StreamName: s })).join('\n');
const cli = async (args: string[], input?: string) => {
  const run = await runCli(args, env, input);
  expect(run.code, run.output).toBe(0);
  return run;
};
const history = async (stream: string) => JSON.parse((await cli(['history', `${DOMAIN}/${APP}/${stream}`, '--json'])).stdout) as Record<string, unknown>[];

describe('the audit trail', () => {
  it('`history` shows a ban, its lift by an undo and a second ban, each with its batch, actor, reason and RequestId, in order', async () => {
    const s = 'appealed';
    await cli(['enqueue', 'forbid', '--file', '-', '--batch', 'first', '--actor', 'moderation-bot', '--reason', 'nudity classifier 0.98', '--ticket', 'CASE-1'], jsonl(s, 'other'));
    await waitFor(async () => (await h.runtime.batches.show('first')).applied === 2, 15_000, 'first applied');
    await cli(['batch', 'undo', 'first', '--actor', 'oncall-ana', '--reason', 'classifier misfire', '--ticket', 'INC-7']);
    await waitFor(async () => (await h.runtime.batches.show('first')).undone === 2, 15_000, 'first undone');
    await cli(['enqueue', 'forbid', '--file', '-', '--batch', 'second', '--actor', 'reviewer-li', '--reason', 'confirmed by review'], jsonl(s));
    await waitFor(async () => (await h.runtime.batches.show('second')).applied === 1, 15_000, 'second applied');

    const records = await history(s);
    const requestIds = h.sim.calls().filter((c) => c.params.StreamName === s && c.code === 'OK').map((c) => c.requestId);
    expect(records.map((r) => [r.operation, r.outcome, r.batch, r.actor, r.reason, r.ticket, r.requestId])).toEqual([
      ['ForbidLiveStream', 'applied', 'first', 'moderation-bot', 'nudity classifier 0.98', 'CASE-1', requestIds[0]],
      ['ResumeLiveStream', 'applied', 'first', 'oncall-ana', 'classifier misfire', 'INC-7', requestIds[1]],
      ['ForbidLiveStream', 'applied', 'second', 'reviewer-li', 'confirmed by review', undefined, requestIds[2]],
    ]);
    expect(records.map((r) => r.stream)).toEqual(Array(3).fill(`${DOMAIN}/${APP}/${s}`));
    // Each names its job, as GET /v1/jobs/:id and the webhooks do (derived from the stream, not stored).
    const params = { DomainName: DOMAIN, AppName: APP, StreamName: s, LiveStreamType: 'publisher' as const };
    expect(records.map((r) => r.jobId)).toEqual([jobId('ForbidLiveStream', 'default', params), jobId('ResumeLiveStream', 'default', params), jobId('ForbidLiveStream', 'default', params)]);
    // The domain is case-insensitive, as the API's is.
    expect(await history(s).then((r) => r.length)).toBe((JSON.parse((await cli(['history', `${DOMAIN.toUpperCase()}/${APP}/${s}`, '--json'])).stdout) as unknown[]).length);
    // The plain form names the same acts.
    const plain = (await cli(['history', `${DOMAIN}/${APP}/${s}`])).stdout;
    expect(plain).toMatch(/ForbidLiveStream applied after 1 attempt .*batch first {2}by moderation-bot {2}reason "nudity classifier 0\.98" {2}ticket CASE-1 {2}RequestId /);
    expect(plain).toMatch(/ResumeLiveStream applied .*\[undo\].*by oncall-ana {2}reason "classifier misfire"/);

    // The worker's outcome line names the stream, the batch and the RequestId, as the trail does.
    const lines = worker.output().split('\n').flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } });
    expect(lines.find((l) => l.msg === 'applied' && l.stream === `${DOMAIN}/${APP}/${s}` && l.batch === 'second')).toMatchObject({ operation: 'ForbidLiveStream', outcome: 'applied', requestId: requestIds[2], attempts: 1 });
    expect(lines.find((l) => l.msg === 'applied' && l.operation === 'ResumeLiveStream' && l.stream === `${DOMAIN}/${APP}/${s}`)).toMatchObject({ batch: 'first', requestId: requestIds[1] });

    // `batch show` names who made the batch and who undid it.
    expect((await cli(['batch', 'show', 'first'])).stdout).toMatch(/by moderation-bot, reason "nudity classifier 0\.98", ticket CASE-1[\s\S]*undo asked .* by oncall-ana, reason "classifier misfire", ticket INC-7/);

    // Every act is in the trail with its counts, oldest first; `audit export` writes it as JSON Lines.
    const exported = (await cli(['audit', 'export', '--since', '1h'])).stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const acts = exported.filter((r) => r.kind === 'act').map((r) => [r.act, r.actor, r.batch, r.counts]);
    expect(acts).toEqual([
      ['enqueue', 'moderation-bot', 'first', { read: 2, enqueued: 2, duplicates: 0, invalid: 0 }],
      ['undo', 'oncall-ana', 'first', { cancelled: 0, resumesEnqueued: 2, undoneBefore: 0 }],
      ['enqueue', 'reviewer-li', 'second', { read: 1, enqueued: 1, duplicates: 0, invalid: 0 }],
    ]);
    expect(exported.filter((r) => r.kind === 'outcome')).toHaveLength(5);
    const times = exported.map((r) => Date.parse(String(r.at)));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('a ban cancelled before its call is in the stream\'s history, with who cancelled it and why', async () => {
    await cli(['pause', 'forbid', '--reason', 'hold the wave']);
    try {
      await cli(['enqueue', 'forbid', '--file', '-', '--batch', 'never', '--actor', 'moderation-bot', '--reason', 'wave 2'], jsonl('never-sent'));
      await cli(['batch', 'cancel', 'never', '--actor', 'oncall-ana', '--reason', 'wrong list']);
    } finally {
      await cli(['resume', 'forbid']);
    }
    const records = await history('never-sent');
    expect(records.map((r) => [r.kind, r.operation, r.outcome, r.act, r.batch, r.actor, r.reason])).toEqual([['outcome', 'ForbidLiveStream', 'cancelled', 'cancel', 'never', 'oncall-ana', 'wrong list']]);
    expect(h.sim.calls().filter((c) => c.params.StreamName === 'never-sent')).toHaveLength(0);
  });

  it('a CLI act without --actor is the shell\'s user and host; pause and resume are recorded', async () => {
    await cli(['pause', 'stop-monitor', '--reason', 'checking the monitors']);
    await cli(['resume', 'stop-monitor']);
    const records = (await h.runtime.audit.page('0', undefined, 10_000)).filter((r) => (r.act === 'pause' || r.act === 'resume') && r.operation === 'StopLiveStreamMonitor');
    expect(records.map((r) => [r.act, r.operation, r.reason])).toEqual([['pause', 'StopLiveStreamMonitor', 'checking the monitors'], ['resume', 'StopLiveStreamMonitor', undefined]]);
    for (const r of records) expect(r.actor).toMatch(/^cli:[^@\s]+@\S+$/);
  });

  it('refuses a stream that is not DOMAIN/APP/STREAM, and an actor that is not a name', async () => {
    const bad = await runCli(['history', 'demo.aliyundoc.com/liveApp'], env);
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('a stream is DOMAIN/APP/STREAM');
    const actor = await runCli(['batch', 'undo', 'first', '--actor', 'two words'], env);
    expect(actor.code).toBe(2);
    expect(actor.output).toContain('--actor must be');
  });

  it('holds no secret: not the AccessKey secret, not the token', async () => {
    const raw = JSON.stringify(await h.redis.xrange(auditKey(h.runtime.prefix), '-', '+'));
    expect(raw.length).toBeGreaterThan(100);
    for (const secret of [ACCESS_KEY_SECRET, ACCESS_KEY_ID]) expect(raw).not.toContain(secret);
  });

  it('history keeps the newest records of a long-lived stream, oldest first', async () => {
    const trail = new AuditTrail(h.redis, `${h.runtime.prefix}:long`, h.runtime.name, { retentionMs: 86_400_000, maxEntries: 1000 });
    const subject = { stream: `${DOMAIN}/${APP}/long-lived` };
    for (let i = 1; i <= 5; i++) await trail.outcome({ operation: 'ForbidLiveStream', subject, jobId: `forbid.default.${i}`, outcome: 'applied', requestId: `r${i}`, attempts: 1 });
    expect((await trail.history(subject, 3)).map((r) => r.requestId)).toEqual(['r3', 'r4', 'r5']);
  });

  it('stores a job id only when it is not the stream\'s own, and reads both back', async () => {
    const trail = new AuditTrail(h.redis, `${h.runtime.prefix}:ids`, h.runtime.name, { retentionMs: 86_400_000, maxEntries: 1000 });
    const subject = { stream: `${DOMAIN}/${APP}/ids` };
    const own = jobId('ForbidLiveStream', h.runtime.name, { DomainName: DOMAIN, AppName: APP, StreamName: 'ids', LiveStreamType: 'publisher' });
    await trail.outcome({ operation: 'ForbidLiveStream', subject, jobId: own, outcome: 'applied', attempts: 1 });
    await trail.outcome({ operation: 'ForbidLiveStream', subject, jobId: 'forbid.default.by-hand', outcome: 'applied', attempts: 1 });
    const stored = (await h.redis.xrange(trail.key, '-', '+')).map(([, fields]) => fields[fields.indexOf('jobId') + 1]);
    expect(stored).toEqual(['', 'forbid.default.by-hand']);
    expect((await trail.history(subject)).map((r) => r.jobId)).toEqual([own, 'forbid.default.by-hand']);
  });

  it('history still reads what an earlier version indexed in a sorted set per stream, beside the newer records', async () => {
    const prefix = `${h.runtime.prefix}:upgraded`;
    const trail = new AuditTrail(h.redis, prefix, h.runtime.name, { retentionMs: 86_400_000, maxEntries: 1000 });
    const subject = { stream: `${DOMAIN}/${APP}/upgraded` };
    const old = await h.redis.xadd(trail.key, '*', 'kind', 'outcome', 'operation', 'ForbidLiveStream', 'stream', subject.stream, 'jobId', 'forbid.default.old', 'outcome', 'applied', 'requestId', 'r-old', 'attempts', '2');
    await h.redis.zadd(legacyAuditSubjectKey(prefix, `stream:${subject.stream}`), Date.now(), old!);
    await trail.outcome({ operation: 'ResumeLiveStream', subject, jobId: 'resume-stream.default.new', outcome: 'applied', requestId: 'r-new', attempts: 1 });
    expect((await trail.history(subject)).map((r) => [r.operation, r.requestId, r.jobId, r.attempts])).toEqual([
      ['ForbidLiveStream', 'r-old', 'forbid.default.old', 2],
      ['ResumeLiveStream', 'r-new', 'resume-stream.default.new', 1],
    ]);
  });

  it('drops a stream\'s head once its records have aged out, at the next write to its bucket', async () => {
    // Two streams whose heads share a bucket.
    const bucketOf = (stream: string) => createHash('sha256').update(`stream:${stream}`).digest('hex').slice(0, 3);
    const seen = new Map<string, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const stream = `${DOMAIN}/${APP}/bucket-${i}`;
      const other = seen.get(bucketOf(stream));
      if (other) pair = [other, stream];
      else seen.set(bucketOf(stream), stream);
    }
    const [first, second] = pair;
    const prefix = `${h.runtime.prefix}:sweep`;
    const trail = new AuditTrail(h.redis, prefix, h.runtime.name, { retentionMs: 300, maxEntries: 1000 });
    await trail.outcome({ operation: 'ForbidLiveStream', subject: { stream: first }, jobId: 'forbid.default.a', outcome: 'applied', attempts: 1 });
    const head = auditHead(prefix, `stream:${first}`);
    expect(await h.redis.hexists(head.key, head.field)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await trail.outcome({ operation: 'ForbidLiveStream', subject: { stream: second }, jobId: 'forbid.default.b', outcome: 'applied', attempts: 1 });
    expect(auditHead(prefix, `stream:${second}`).key).toBe(head.key);
    expect(await h.redis.hexists(head.key, head.field)).toBe(0);
    expect(await h.redis.hexists(head.key, auditHead(prefix, `stream:${second}`).field)).toBe(1);
    expect(await trail.history({ stream: first })).toEqual([]);
  });

  it('trims records older than the retention, from the trail and from each stream\'s history', async () => {
    const trail = new AuditTrail(h.redis, `${h.runtime.prefix}:retention`, h.runtime.name, { retentionMs: 300, maxEntries: 1000 });
    const subject = { stream: `${DOMAIN}/${APP}/kept-short` };
    await trail.outcome({ operation: 'ForbidLiveStream', subject, jobId: 'forbid.default.x', outcome: 'applied', attempts: 1 });
    await trail.act({ act: 'pause', actor: 'test' });
    expect(await trail.history(subject)).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await trail.act({ act: 'resume', actor: 'test' });
    expect(await trail.history(subject)).toHaveLength(0);
    expect((await trail.page('0', undefined, 100)).map((r) => r.act)).toEqual(['resume']);
  });
});
