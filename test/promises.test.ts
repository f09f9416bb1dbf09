import { createServer, connect, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyFailure } from '../src/catalog/error-codes.ts';
import { AlibabaLiveClient, staticCredential } from '../src/live/client.ts';
import { LiveApiSimulator } from '../src/sim/index.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { freePort, startTestServer } from './helpers/http.ts';
import { startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { deleteKeys, newRedis, REDIS_URL, uniquePrefix } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

/** Promises the README makes about timeouts, expiry, ports and binding, each tried for real. */
let h: Harness | undefined;
let running: RunningProcess[] = [];
let blockers: Server[] = [];
/** Prefixes the processes of a test wrote under: deleted after it. */
let prefixes: string[] = [];
const prefixOfTest = (name: string) => {
  const prefix = uniquePrefix(name);
  prefixes.push(prefix);
  return prefix;
};
afterEach(async () => {
  for (const p of running) p.child.kill('SIGKILL');
  running = [];
  if (prefixes.length > 0) {
    const redis = newRedis();
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    redis.disconnect();
    prefixes = [];
  }
  for (const b of blockers) b.close();
  blockers = [];
  await h?.close();
  h = undefined;
});

describe('README promises', () => {
  it('LIVE_TIMEOUT_MS bounds one call; a timed-out call counts as a service failure, retried, never a dead letter', async () => {
    const sim = new LiveApiSimulator({ accessKeys: { [ACCESS_KEY_ID]: ACCESS_KEY_SECRET }, latencyMs: { min: 3000, max: 3000 } });
    const endpoint = await sim.start();
    try {
      const client = new AlibabaLiveClient({ endpoint, regionId: 'cn-shanghai', timeoutMs: 400, credential: staticCredential(ACCESS_KEY_ID, ACCESS_KEY_SECRET) });
      const started = Date.now();
      const result = await client.call('ForbidLiveStream', { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'slow', LiveStreamType: 'publisher' });
      expect(Date.now() - started).toBeLessThan(2500);
      expect(result.ok).toBe(false);
      if (result.ok || 'notSent' in result) throw new Error('expected a failed call');
      expect(result.network).toBe(true);
      expect(classifyFailure(result).outcome).toBe('systemic');
    } finally {
      await sim.stop();
    }
  });

  it('a call slower than 5 s but within LIVE_TIMEOUT_MS is answered, not cut', async () => {
    const sim = new LiveApiSimulator({ accessKeys: { [ACCESS_KEY_ID]: ACCESS_KEY_SECRET }, latencyMs: { min: 6000, max: 6000 } });
    const endpoint = await sim.start();
    try {
      const client = new AlibabaLiveClient({ endpoint, regionId: 'cn-shanghai', timeoutMs: 10_000, credential: staticCredential(ACCESS_KEY_ID, ACCESS_KEY_SECRET) });
      const result = await client.call('ForbidLiveStream', { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'slow-ok', LiveStreamType: 'publisher' });
      expect(result).toMatchObject({ ok: true });
    } finally {
      await sim.stop();
    }
  });

  it('a finished job\'s outcome is kept for OUTCOME_TTL_SECONDS, then GET /v1/jobs/:id is 404', async () => {
    h = await startHarness('outcome-ttl', { OUTCOME_TTL_SECONDS: '1', LIVEQUEUE_API_TOKEN: 'outcome-ttl-token-0123456789' });
    const [result] = await h.intake.add('ForbidLiveStream', [{ params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'ttl' } }]);
    const id = result!.status === 'enqueued' ? result!.jobId : '';
    h.startWorkers({ operations: ['ForbidLiveStream'] });
    await h.drained(1);
    const server = await startTestServer(h.config);
    try {
      const get = () => server.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: { authorization: 'Bearer outcome-ttl-token-0123456789' } });
      const kept = await get();
      expect(kept.statusCode).toBe(200);
      expect(kept.json()).toMatchObject({ state: 'applied' });
      await waitFor(async () => (await get()).statusCode === 404, 5000, 'the outcome expired');
      expect(await h.runtime.outcomes.get(id)).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('a worker whose METRICS_PORT is taken warns and runs without /metrics', async () => {
    const port = await freePort();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '0.0.0.0', resolve));
    blockers.push(blocker);
    const worker = startCli(['worker'], {
      REDIS_URL, QUEUE_PREFIX: prefixOfTest('metrics-taken'), LIVE_ENDPOINT: 'http://127.0.0.1:9',
      ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, METRICS_PORT: String(port), LOG_LEVEL: 'info',
    });
    running.push(worker);
    await waitForOutput(worker, (o) => o.includes('workers started'));
    expect(worker.output()).toContain('metrics: cannot listen; this worker runs without /metrics');
    expect(worker.output()).toContain(`"port":${port}`);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });

  it('`livequeue serve` without a token listens on 127.0.0.1 only', async () => {
    const serve = startCli(['serve'], { REDIS_URL, QUEUE_PREFIX: prefixOfTest('serve-loopback'), HTTP_PORT: '0', LOG_LEVEL: 'info' });
    running.push(serve);
    await waitForOutput(serve, (o) => /"url":"http:\/\/[^"]+:\d+"/.test(o));
    const url = new URL(/"url":"([^"]+)"/.exec(serve.output())![1]!);
    expect(url.hostname).toBe('127.0.0.1');
    expect(serve.output()).toContain('no LIVEQUEUE_API_TOKEN or LIVEQUEUE_API_TOKENS_FILE: listening on 127.0.0.1 only');
    const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    expect(external, 'this machine has a non-loopback IPv4 address to try').toBeDefined();
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(Number(url.port), external!);
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    expect(await fetch(`${url.origin}/healthz`).then((r) => r.status)).toBe(200);
  });
});

describe('README promises, with a worker process', () => {
  const bans = (n: number, tag: string, extra: Record<string, string> = {}) =>
    Array.from({ length: n }, (_, i) => ({ params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `${tag}-${i}`, ...extra } }));
  const workerEnv = (harness: Harness, extra: Record<string, string> = {}) => ({
    REDIS_URL, QUEUE_PREFIX: harness.config.prefix, LIVE_ENDPOINT: harness.endpoint, ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'info', METRICS_PORT: '0', ...extra,
  });

  it('SIGINT with a call in flight: the worker waits at most SHUTDOWN_TIMEOUT_MS, exits 0, and the job is not lost', async () => {
    h = await startHarness('sigint', { JOB_LOCK_MS: '1500' }, { latencyMs: { min: 3000, max: 3000 } });
    await h.intake.add('ForbidLiveStream', bans(1, 'inflight', { Oneshot: 'yes' }));
    const worker = startCli(['worker', '--operations', 'forbid'], workerEnv(h, { SHUTDOWN_TIMEOUT_MS: '1000', JOB_LOCK_MS: '1500' }));
    running.push(worker);
    const sim = h.sim;
    await waitFor(() => sim.calls().length === 1, 10_000, 'the call sent');
    const stopping = Date.now();
    worker.child.kill('SIGINT');
    expect(await worker.exited).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(4000);
    expect(worker.output()).toContain('shutdown timed out; unfinished jobs will be picked up again by another worker');
    // Another worker takes the job over once its lock lapses and finishes it.
    const next = startCli(['worker', '--operations', 'forbid'], workerEnv(h, { JOB_LOCK_MS: '1500' }));
    running.push(next);
    const rows = await h.drained(1, 30_000);
    expect(rows.find((r) => r.operation === 'ForbidLiveStream')!.applied).toBeGreaterThanOrEqual(1);
  });

  it('a credential failure logs one error per hold (the process\'s, then the account\'s), not one per job', async () => {
    h = await startHarness('one-error', {}, {});
    await h.intake.add('ForbidLiveStream', bans(40, 'creds', { Oneshot: 'yes' }));
    const worker = startCli(['worker', '--operations', 'forbid'], workerEnv(h, { ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'not-the-secret', HOLD_PROBE_MS: '500', HOLD_PROBE_MAX_MS: '1000' }));
    running.push(worker);
    const harness = h;
    await waitFor(async () => (await harness.status())[0]!.hold !== null, 10_000, 'the hold');
    // Several probes fail meanwhile: still one error line.
    await new Promise((r) => setTimeout(r, 3000));
    const errors = worker.output().split('\n').filter((l) => l.startsWith('{') && JSON.parse(l).level >= 50).map((l) => JSON.parse(l));
    // This process holds itself first; with no other process succeeding, the account is held too.
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({ code: 'SignatureDoesNotMatch', hint: expect.stringContaining('AccessKey'), msg: expect.stringContaining('this process holds itself') });
    expect(errors[1]).toMatchObject({ code: 'SignatureDoesNotMatch', reason: 'credentials', hint: expect.stringContaining('AccessKey'), why: 'no process of the account succeeds' });
    expect(worker.output()).not.toContain('not-the-secret');
  });

  it('`livequeue resume forbid` lets bans held for a full blacklist go at once, not at the next re-check', async () => {
    h = await startHarness('resume-blacklist', { BLACKLIST_RECHECK_MS: '600000' }, { blacklistCap: 3 });
    h.sim.seedBlacklist('demo.aliyundoc.com', 3);
    await h.intake.add('ForbidLiveStream', bans(3, 'wait'));
    const worker = startCli(['worker', '--operations', 'forbid'], workerEnv(h, { BLACKLIST_RECHECK_MS: '600000' }));
    running.push(worker);
    const harness = h;
    await waitFor(async () => (await harness.status())[0]!.hold?.reason === 'blacklist', 10_000, 'the blacklist hold');
    // Room again (someone lifted bans), ten minutes before the re-check.
    h.sim.clearBlacklist();
    const resumed = Date.now();
    const resume = startCli(['resume', 'forbid'], { REDIS_URL, QUEUE_PREFIX: h.config.prefix });
    expect(await resume.exited).toBe(0);
    expect(resume.output()).toMatch(/released \d+ bans held for the blacklist/);
    await h.drained(3, 10_000);
    expect(Date.now() - resumed).toBeLessThan(5000);
    expect(h.sim.calls().filter((c) => c.code === 'OK')).toHaveLength(3);
  });
});
