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
      expect(await (await server.request('/v1/batches/http-run/cancel', { method: 'POST' })).json()).toMatchObject({ cancelled: 3, inFlight: 0 });
      expect(await h.producer.queue('ForbidLiveStream').count()).toBe(1);
      expect((await server.request('/v1/batches/nope')).status).toBe(404);
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
