import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AlibabaLiveClient, staticCredential } from '../src/live/client.ts';
import { jobId } from '../src/queue/names.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { API_TOKEN } from './helpers/http.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * A batch owns its bans, not streams. Batch A bans S; S is lifted outside
 * livequeue; batch B bans S again while bans are paused. Job ids are one per
 * stream, so A and B name the same job: cancel and undo of A must still act
 * only on what A did and still stands, and `batch show` must tell each
 * batch's own outcome. Through the CLI and through `livequeue serve`, with
 * `livequeue worker` started as users start it.
 */
const DOMAIN = 'demo.aliyundoc.com';
const APP = 'liveApp';
let h: Harness;
let env: Record<string, string>;
let worker: RunningProcess;
let serve: RunningProcess;
let url: string;

beforeAll(async () => {
  h = await startHarness('batch-owner');
  env = { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LIVE_ENDPOINT: h.endpoint, ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'warn' };
  worker = startCli(['worker'], { ...env, LOG_LEVEL: 'info', METRICS_PORT: '0' });
  serve = startCli(['serve'], { ...env, LOG_LEVEL: 'info', HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', LIVEQUEUE_API_TOKEN: API_TOKEN });
  await Promise.all([waitForOutput(worker, (o) => o.includes('workers started')), waitForOutput(serve, (o) => /"url":"http:\/\/127\.0\.0\.1:\d+"/.test(o))]);
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(serve.output())![1]!;
});
// A test that fails while bans are paused leaves them paused: the next one starts unpaused.
afterEach(async () => {
  await h.runtime.holds.resume('ForbidLiveStream');
});
afterAll(async () => {
  for (const p of [worker, serve]) p?.child.kill('SIGTERM');
  await Promise.all([worker?.exited, serve?.exited]);
  await h.close();
});

const ban = (stream: string) => ({ DomainName: DOMAIN, AppName: APP, StreamName: stream });
const banId = (stream: string) => jobId('ForbidLiveStream', 'default', { ...ban(stream), LiveStreamType: 'publisher' });
const jsonl = (...streams: string[]) => streams.map((s) => JSON.stringify(ban(s))).join('\n');
const cliJson = async (args: string[], input?: string) => {
  const run = await runCli([...args, '--json'], env, input);
  expect(run.code, run.output).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
};
const http = async (path: string, body?: unknown) => {
  const response = await fetch(`${url}/v1${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, `${path}: ${response.status}`).toBeLessThan(300);
  return (await response.json()) as Record<string, unknown>;
};
const calls = (action: string, stream: string) => h.sim.calls().filter((c) => c.action === action && c.params.StreamName === stream);

/** The ban is lifted behind livequeue's back: a ResumeLiveStream call of its own, straight to the API. */
async function liftOutside(stream: string): Promise<void> {
  const client = new AlibabaLiveClient({ ...h.config.live, regionId: h.runtime.settings.region, credential: staticCredential(ACCESS_KEY_ID, ACCESS_KEY_SECRET) });
  expect((await client.call('ResumeLiveStream', { ...ban(stream), LiveStreamType: 'publisher' })).ok).toBe(true);
  expect(h.sim.isBlacklisted(DOMAIN, APP, stream)).toBe(false);
}

const applied = (batch: string, n: number) => waitFor(async () => (await h.runtime.batches.show(batch)).applied === n, 15_000, `${batch}: ${n} applied`);

describe('the same stream banned by two batches', () => {
  it('through the CLI: cancel and undo of the first batch leave the second batch\'s ban', async () => {
    const [s, t] = ['cli-s', 'cli-t'];
    await cliJson(['enqueue', 'forbid', '--file', '-', '--batch', 'cli-a'], jsonl(s, t));
    await applied('cli-a', 2);
    const [, pause] = await Promise.all([liftOutside(s), runCli(['pause', 'forbid'], env)]);
    expect(pause.code).toBe(0);

    expect(await cliJson(['enqueue', 'forbid', '--file', '-', '--batch', 'cli-b'], jsonl(s))).toMatchObject({ enqueued: 1, duplicates: 0 });
    // The stream is cli-b's job now: cancelling cli-a does not touch it.
    const cancel = await runCli(['batch', 'cancel', 'cli-a'], env);
    expect(cancel.stdout.trim()).toBe('batch cli-a: cancelled 0 jobs before any call; 0 in flight will finish; 2 had finished or were cancelled before (1 of them enqueued again by a later batch since: left to it)');
    expect(await h.producer.queue('ForbidLiveStream').getJob(banId(s))).toBeDefined();
    expect(await h.runtime.batches.show('cli-b')).toMatchObject({ jobs: 1, waiting: 1, cancelled: 0, applied: 0 });
    expect(calls('ForbidLiveStream', s)).toHaveLength(1);

    expect((await runCli(['resume', 'forbid'], env)).code).toBe(0);
    await applied('cli-b', 1);
    expect(calls('ForbidLiveStream', s)).toHaveLength(2);
    expect(h.sim.isBlacklisted(DOMAIN, APP, s)).toBe(true);

    // Each batch tells its own: cli-a applied both of its bans, and one stream is cli-b's now.
    const [showA, showB] = await Promise.all([cliJson(['batch', 'show', 'cli-a']), cliJson(['batch', 'show', 'cli-b'])]);
    expect(showA).toMatchObject({ jobs: 2, applied: 2, cancelled: 0, waiting: 0, superseded: 1 });
    expect(showB).toMatchObject({ jobs: 1, applied: 1, cancelled: 0, superseded: 0 });

    // Undo of cli-a lifts its own standing ban (t) and leaves cli-b's (s).
    expect(await cliJson(['batch', 'undo', 'cli-a'])).toMatchObject({ cancelled: 0, resumesEnqueued: 1, supersededBans: 1 });
    await waitFor(async () => (await h.runtime.batches.show('cli-a')).undone === 1, 15_000, 'cli-a undone');
    expect(h.sim.isBlacklisted(DOMAIN, APP, t)).toBe(false);
    expect(h.sim.isBlacklisted(DOMAIN, APP, s)).toBe(true);
    expect(calls('ResumeLiveStream', s)).toHaveLength(1); // only the lift made outside
    // cli-b's undo would lift s: the standing ban is its own.
    expect(await h.runtime.batches.undo('cli-b', { actor: 'test' })).toMatchObject({ resumesEnqueued: 1, supersededBans: 0 });
    await waitFor(() => !h.sim.isBlacklisted(DOMAIN, APP, s), 15_000, 's lifted by cli-b');
  });

  it('through the HTTP API (`livequeue serve`)', async () => {
    const [s, t] = ['http-s', 'http-t'];
    expect(await http('/forbid', { batch: 'http-a', jobs: [ban(s), ban(t)] })).toMatchObject({ enqueued: 2 });
    await applied('http-a', 2);
    const [, pause] = await Promise.all([liftOutside(s), runCli(['pause', 'forbid'], env)]);
    expect(pause.code).toBe(0);
    expect(await http('/forbid', { batch: 'http-b', jobs: [ban(s)] })).toMatchObject({ enqueued: 1 });
    expect(await http('/batches/http-a/cancel', {})).toEqual({ batch: 'http-a', cancelled: 0, inFlight: 0, untouched: 2, superseded: 1 });
    expect(await http('/batches/http-b')).toMatchObject({ jobs: 1, waiting: 1, cancelled: 0 });

    expect((await runCli(['resume', 'forbid'], env)).code).toBe(0);
    await applied('http-b', 1);
    expect(h.sim.isBlacklisted(DOMAIN, APP, s)).toBe(true);
    expect(await http('/batches/http-a')).toMatchObject({ applied: 2, cancelled: 0, superseded: 1 });
    expect(await http('/batches/http-b')).toMatchObject({ applied: 1, cancelled: 0, superseded: 0 });

    expect(await http('/batches/http-a/undo', {})).toMatchObject({ resumesEnqueued: 1, supersededBans: 1 });
    await waitFor(async () => (await http('/batches/http-a')).undone === 1, 15_000, 'http-a undone');
    expect(h.sim.isBlacklisted(DOMAIN, APP, t)).toBe(false);
    expect(h.sim.isBlacklisted(DOMAIN, APP, s)).toBe(true);
    expect(calls('ResumeLiveStream', s)).toHaveLength(1);
  });
});
