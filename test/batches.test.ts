import { afterEach, describe, expect, it } from 'vitest';
import { batchKeys, jobId } from '../src/queue/names.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { startTestServer } from './helpers/http.ts';
import { runCli } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

/** A batch is one enqueue: seen with `batch show`, stopped with `batch cancel`. */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => JSON.stringify({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `${tag}-${i}`, Oneshot: 'yes' })).join('\n');
const envOf = (harness: Harness) => ({ REDIS_URL, QUEUE_PREFIX: harness.config.prefix, LOG_LEVEL: 'silent' });

describe('batches', () => {
  it('every enqueue gets a batch id; show counts its jobs by state', async () => {
    h = await startHarness('batch-show');
    const env = envOf(h);
    const first = await runCli(['enqueue', 'forbid', '--file', '-', '--json'], env, lines(3, 'b1'));
    const { batch } = JSON.parse(first.stdout) as { batch: string };
    expect(batch).toMatch(/^\d{8}T\d{6}-[0-9a-f]{6}$/);
    const named = await runCli(['enqueue', 'forbid', '--file', '-', '--batch', 'classifier-run-7'], env, `${lines(2, 'b2')}\n${lines(1, 'b1')}`);
    expect(named.stdout).toContain('batch: classifier-run-7');

    const pending = JSON.parse((await runCli(['batch', 'show', 'classifier-run-7', '--json'], env)).stdout);
    // b1-0 was pending already (the first batch's): a duplicate is not this batch's job.
    expect(pending).toMatchObject({ batch: 'classifier-run-7', operation: 'ForbidLiveStream', jobs: 2, waiting: 2, applied: 0 });

    h.sim.script({ action: 'ForbidLiveStream', match: { StreamName: 'b2-1' }, code: 'InvalidResumeTime.Malformed', status: 400 });
    h.startWorkers({ operations: ['ForbidLiveStream'] });
    await h.drained(5);
    const done = await runCli(['batch', 'show', 'classifier-run-7'], env);
    expect(done.stdout).toContain('batch classifier-run-7: 2 forbid jobs');
    expect(done.stdout).toMatch(/waiting 0 {2}active 0 {2}applied 1 {2}already-applied 0 {2}dead-lettered 1 {2}cancelled 0/);
    expect(JSON.parse((await runCli(['batch', 'show', batch, '--json'], env)).stdout)).toMatchObject({ jobs: 3, applied: 3 });
  });

  it('cancel mid-drain: no call is ever made for a cancelled job, in-flight jobs finish', async () => {
    h = await startHarness('batch-cancel', {}, { latencyMs: { min: 5, max: 15 } });
    const env = envOf(h);
    await runCli(['enqueue', 'forbid', '--file', '-', '--batch', 'misfire'], env, lines(200, 'mf'));
    h.startWorkers({ operations: ['ForbidLiveStream'] });
    const sim = h.sim;
    await waitFor(() => sim.calls().length >= 20, 10_000, '20 calls');
    const cancel = await runCli(['batch', 'cancel', 'misfire', '--json'], env);
    expect(cancel.code).toBe(0);
    const result = JSON.parse(cancel.stdout) as { cancelled: number; inFlight: number; untouched: number };
    expect(result.cancelled).toBeGreaterThan(100);
    const harness = h;
    await waitFor(async () => (await harness.status())[0]!.active === 0 && (await harness.status())[0]!.waiting === 0, 10_000, 'in-flight jobs finished');
    await new Promise((r) => setTimeout(r, 500));

    const cancelled = new Set(await h.redis.smembers(batchKeys(h.runtime.prefix, 'misfire').cancelled));
    expect(cancelled.size).toBe(result.cancelled);
    const streamOf = new Map(Array.from({ length: 200 }, (_, i) => {
      const params = { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `mf-${i}`, LiveStreamType: 'publisher' as const };
      return [jobId('ForbidLiveStream', 'default', params), params.StreamName] as const;
    }));
    const called = new Set(sim.calls().map((c) => c.params.StreamName));
    for (const id of cancelled) {
      expect(streamOf.has(id)).toBe(true);
      expect(called.has(streamOf.get(id))).toBe(false);
    }
    const show = JSON.parse((await runCli(['batch', 'show', 'misfire', '--json'], env)).stdout) as Record<string, number>;
    expect(show).toMatchObject({ jobs: 200, cancelled: result.cancelled, waiting: 0, active: 0 });
    expect(show.applied! + show.cancelled!).toBe(200);
    // Exactly the jobs not cancelled were called, each once.
    expect(called.size).toBe(200 - result.cancelled);
    expect(sim.calls()).toHaveLength(200 - result.cancelled);
  });

  it('refuses an unknown batch (exit 2, HTTP 404) and a batch named for another operation', async () => {
    h = await startHarness('batch-errors');
    const env = envOf(h);
    const unknown = await runCli(['batch', 'cancel', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toContain('unknown batch "nope"');
    await runCli(['enqueue', 'forbid', '--file', '-', '--batch', 'only-bans'], env, lines(1, 'x'));
    const mixed = await runCli(['enqueue', 'stop-monitor', '--file', '-', '--batch', 'only-bans'], env, '445409ec-7eaa-461d-8f29-4bec2eb9a1b2\n');
    expect(mixed.code).toBe(2);
    expect(mixed.output).toContain('batch "only-bans" holds ForbidLiveStream jobs');
    expect(await h.producer.queue('StopLiveStreamMonitor').count()).toBe(0);
    expect((await runCli(['enqueue', 'forbid', '--file', '-', '--batch', 'bad batch'], env, lines(1, 'y'))).code).toBe(2);
  });

  it('over HTTP: a named batch in the body, then show and cancel', async () => {
    h = await startHarness('batch-http');
    const server = await startTestServer(h.config);
    try {
      const jobs = Array.from({ length: 3 }, (_, i) => ({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `http-${i}` }));
      const created = await server.request('/v1/forbid', { method: 'POST', json: { batch: 'http-run', jobs } });
      expect(created.status).toBe(202);
      expect(await created.json()).toMatchObject({ batch: 'http-run', enqueued: 3 });
      const plain = await server.request('/v1/forbid', { method: 'POST', json: [{ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'http-x' }] });
      expect(((await plain.json()) as { batch: string }).batch).toMatch(/^\d{8}T/);
      expect(await (await server.request('/v1/batches/http-run')).json()).toMatchObject({ jobs: 3, waiting: 3 });
      expect(await (await server.request('/v1/batches/http-run/cancel', { method: 'POST', json: {} })).json()).toMatchObject({ cancelled: 3, inFlight: 0 });
      expect(await h.producer.queue('ForbidLiveStream').count()).toBe(1);
      expect((await server.request('/v1/batches/nope')).status).toBe(404);
      // Other errors still get the server's own answers: a bad id is a 400 naming the rule.
      const bad = await server.request('/v1/batches/bad%20id');
      expect(bad.status).toBe(400);
      const body = await bad.json();
      expect(body).toMatchObject({ error: 'invalid-request' });
      expect(JSON.stringify(body.errors)).toContain('batch must be 1-64 letters, digits');
      const conflict = await server.request('/v1/stop-monitor', { method: 'POST', json: { batch: 'http-run', jobs: [{ MonitorId: '445409ec-7eaa-461d-8f29-4bec2eb9a1b2' }] } });
      expect(conflict.status).toBe(409);

      // Without a token, only loopback names are answered (DNS rebinding).
      const job = [{ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'rebound' }];
      const rebound = await server.app.inject({ method: 'POST', url: '/v1/forbid', headers: { host: 'attacker.example' }, payload: job });
      expect(rebound.statusCode).toBe(403);
      expect(rebound.json()).toMatchObject({ error: 'forbidden-host' });
      expect((await server.app.inject({ method: 'GET', url: '/ui/', headers: { host: 'attacker.example:8080' } })).statusCode).toBe(403);
      expect((await server.app.inject({ method: 'POST', url: '/v1/forbid', headers: { host: 'localhost:8080' }, payload: job })).statusCode).toBe(202);
    } finally {
      await server.close();
    }
  });
});

const DOMAIN = 'demo.aliyundoc.com';
const ban = (stream: string, extra: Record<string, string> = {}) => JSON.stringify({ DomainName: DOMAIN, AppName: 'liveApp', StreamName: stream, ...extra });
const resumeCalls = (harness: Harness) => harness.sim.calls().filter((c) => c.action === 'ResumeLiveStream').map((c) => c.params.StreamName!);

describe('batch undo', () => {
  it('lifts exactly the bans the batch applied; undo twice (even at once) never resumes twice', async () => {
    h = await startHarness('batch-undo');
    const env = envOf(h);
    h.sim.seedBlacklist(DOMAIN, 1);
    const ours = Array.from({ length: 20 }, (_, i) => `wrong-${i}`);
    const input = [
      ...ours.map((s, i) => ban(s, i % 2 ? { ResumeTime: '2031-01-01T00:00:00Z' } : {})),
      ...['shot-0', 'shot-1', 'shot-2'].map((s) => ban(s, { Oneshot: 'yes' })),
      // Banned before this batch, by someone else: undo must leave it.
      JSON.stringify({ DomainName: DOMAIN, AppName: 'seeded', StreamName: 'seeded-0' }),
    ].join('\n');
    expect((await runCli(['enqueue', 'forbid', '--file', '-', '--batch', 'misfire'], env, input)).code).toBe(0);
    await runCli(['enqueue', 'forbid', '--file', '-', '--batch', 'innocent'], env, ban('keep-me'));
    h.startWorkers();
    await h.drained(25);
    expect(await h.runtime.blacklist.permanentBans()).toBe(11); // 10 of ours and keep-me have no ResumeTime

    const [first, second] = await Promise.all([runCli(['batch', 'undo', 'misfire', '--json'], env), runCli(['batch', 'undo', 'misfire', '--json'], env)]);
    expect([first.code, second.code]).toEqual([0, 0]);
    const results = [JSON.parse(first.stdout), JSON.parse(second.stdout)] as { resumesEnqueued: number; undoneBefore: number; interruptOnly: number; alreadyApplied: number }[];
    expect(results[0]!.resumesEnqueued + results[1]!.resumesEnqueued).toBe(20);
    expect(results[0]!).toMatchObject({ interruptOnly: 3, alreadyApplied: 1 });

    const harness = h;
    await waitFor(() => resumeCalls(harness).length >= 20, 10_000, '20 ResumeLiveStream calls');
    await waitFor(async () => (await harness.runtime.batches.show('misfire')).undone === 20, 10_000, 'undone counted');
    expect(resumeCalls(h).sort()).toEqual([...ours].sort());
    for (const s of ours) expect(h.sim.isBlacklisted(DOMAIN, 'liveApp', s)).toBe(false);
    expect(h.sim.isBlacklisted(DOMAIN, 'seeded', 'seeded-0')).toBe(true);
    expect(h.sim.isBlacklisted(DOMAIN, 'liveApp', 'keep-me')).toBe(true);
    expect(await h.runtime.blacklist.permanentBans()).toBe(1);

    const again = JSON.parse((await runCli(['batch', 'undo', 'misfire', '--json'], env)).stdout);
    expect(again).toMatchObject({ resumesEnqueued: 0, undoneBefore: 20 });
    const show = JSON.parse((await runCli(['batch', 'show', 'misfire', '--json'], env)).stdout);
    expect(show).toMatchObject({ jobs: 24, applied: 23, alreadyApplied: 1, undone: 20, undoPending: 0, undoFailed: 0 });
    expect(show.undoRequestedAt).toMatch(/^\d{4}-/);
    await new Promise((r) => setTimeout(r, 300));
    expect(resumeCalls(h)).toHaveLength(20);
  });

  it('mid-drain: pending bans are cancelled and every ban that lands, even after the undo, is lifted', async () => {
    h = await startHarness('batch-undo-drain', {}, { latencyMs: { min: 40, max: 60 } });
    const env = envOf(h);
    const streams = Array.from({ length: 150 }, (_, i) => `md-${i}`);
    await runCli(['enqueue', 'forbid', '--file', '-', '--batch', 'halfway'], env, streams.map((s) => ban(s)).join('\n'));
    h.startWorkers({ operations: ['ForbidLiveStream', 'ResumeLiveStream'] });
    const sim = h.sim;
    await waitFor(() => sim.calls().length >= 30, 10_000, '30 bans sent');
    const undo = JSON.parse((await runCli(['batch', 'undo', 'halfway', '--json'], env)).stdout) as { cancelled: number; inFlight: number; resumesEnqueued: number };
    expect(undo.cancelled).toBeGreaterThan(50);
    // Some bans were in a worker's hands: they land after the undo and are lifted as they land.
    expect(undo.inFlight).toBeGreaterThan(0);
    const harness = h;
    const banned = () => new Set(sim.calls().filter((c) => c.action === 'ForbidLiveStream' && c.code === 'OK').map((c) => c.params.StreamName!));
    await waitFor(async () => {
      const rows = await harness.status();
      return rows.every((r) => r.active === 0 && r.waiting === 0 && r.delayed === 0) && resumeCalls(harness).length === banned().size;
    }, 15_000, 'every landed ban lifted');
    expect(new Set(resumeCalls(h))).toEqual(banned());
    expect(banned().size + undo.cancelled).toBe(150);
    expect(undo.resumesEnqueued).toBeLessThan(banned().size);
    for (const s of streams) expect(h.sim.isBlacklisted(DOMAIN, 'liveApp', s)).toBe(false);
    expect(await h.runtime.batches.show('halfway')).toMatchObject({ cancelled: undo.cancelled, applied: banned().size, undone: banned().size });
  });

  it('refuses to undo a batch of monitor stops, saying why (exit 2, HTTP 409); an unknown batch is 404', async () => {
    h = await startHarness('batch-undo-refused');
    const env = envOf(h);
    await runCli(['enqueue', 'stop-monitor', '--file', '-', '--batch', 'stops'], env, '445409ec-7eaa-461d-8f29-4bec2eb9a1b2\n');
    const refused = await runCli(['batch', 'undo', 'stops'], env);
    expect(refused.code).toBe(2);
    expect(refused.output).toContain('a stopped monitor cannot be restarted through this API');
    expect((await runCli(['batch', 'undo', 'nope'], env)).code).toBe(2);
    const server = await startTestServer(h.config);
    try {
      const http = await server.request('/v1/batches/stops/undo', { method: 'POST', json: {} });
      expect(http.status).toBe(409);
      expect(await http.json()).toMatchObject({ error: 'not-undoable' });
      expect((await server.request('/v1/batches/nope/undo', { method: 'POST', json: {} })).status).toBe(404);
      // Lifts can be enqueued by hand too, checked like any job.
      const lift = await server.request('/v1/resume-stream', { method: 'POST', json: [{ DomainName: DOMAIN, AppName: 'liveApp', StreamName: 'by-hand' }, { DomainName: DOMAIN, AppName: 'liveApp', StreamName: 'x', Oneshot: 'yes' }] });
      expect(lift.status).toBe(400);
      expect(await lift.json()).toMatchObject({ enqueued: 1, invalid: 1, results: [{ status: 'enqueued' }, { status: 'invalid', errors: [{ message: 'unknown field(s) Oneshot' }] }] });
      expect(await h.producer.queue('ResumeLiveStream').count()).toBe(1);
    } finally {
      await server.close();
    }
    expect(await h.producer.queue('StopLiveStreamMonitor').count()).toBe(1);
  });

  it('cancel everything only with --all and the pending count confirmed', async () => {
    h = await startHarness('batch-cancel-all');
    const env = envOf(h);
    await runCli(['enqueue', 'forbid', '--file', '-'], env, lines(7, 'a'));
    await runCli(['enqueue', 'stop-monitor', '--file', '-'], env, '445409ec-7eaa-461d-8f29-4bec2eb9a1b2\n');
    const bare = await runCli(['batch', 'cancel'], env);
    expect(bare.code).toBe(2);
    expect(bare.output).toContain('--all');
    const unconfirmed = await runCli(['batch', 'cancel', '--all'], env);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.output).toContain('8 jobs are pending in this account; to cancel all of them, repeat with --confirm 8');
    const short = await runCli(['batch', 'cancel', '--all', '--confirm', '5'], env);
    expect(short.code).toBe(2);
    expect(await h.producer.queue('ForbidLiveStream').count()).toBe(7);

    const server = await startTestServer(h.config);
    try {
      const http = await server.request('/v1/batches/cancel', { method: 'POST', json: { all: true } });
      expect(http.status).toBe(409);
      expect(await http.json()).toMatchObject({ error: 'not-confirmed', pending: 8 });
      const onlyStops = await server.request('/v1/batches/cancel', { method: 'POST', json: { all: true, confirm: 1, operation: 'stop-monitor' } });
      expect(await onlyStops.json()).toEqual({ cancelled: { StopLiveStreamMonitor: 1 } });
    } finally {
      await server.close();
    }
    const done = await runCli(['batch', 'cancel', '--all', '--confirm', '7', '--json'], env);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout).cancelled).toMatchObject({ ForbidLiveStream: 7 });
    expect(await h.producer.queue('ForbidLiveStream').count()).toBe(0);
  });
});
