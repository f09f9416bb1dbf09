import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyFailure } from '../src/catalog/error-codes.ts';
import { providerCredential } from '../src/live/client.ts';
import { createLogger } from '../src/log.ts';
import { registerQueueGauges } from '../src/metrics/queue-gauges.ts';
import { maxInAnyWindow } from '../src/sim/index.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, FAST_RETRIES, startHarness, statusOf, type Harness } from './helpers/harness.ts';
import { startCli } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Incidents: the service or the account fails for longer than any retry
 * schedule. The operation is held for every worker, waiting jobs keep their
 * attempts, one probe goes out now and then, and the first answer that is
 * about a job again releases the hold. A retry window (FAST_RETRIES) far
 * shorter than each outage shows that the hold, not the schedule, carries the
 * backlog through.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const FAST_PROBES = { HOLD_PROBE_MS: '200', HOLD_PROBE_MAX_MS: '800' };
const QPS = 20;
const BACKLOG = 60;

const bans = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `${prefix}-${i}`, Oneshot: 'yes' } }));

async function enqueueBans(harness: Harness, n: number, prefix: string): Promise<string[]> {
  const results = await harness.intake.add('ForbidLiveStream', bans(n, prefix));
  return results.map((r) => (r.status === 'enqueued' ? r.jobId : ''));
}

/** Attempts each job used, from its recorded outcome. */
async function attemptsUsed(harness: Harness, jobIds: string[]): Promise<number[]> {
  return Promise.all(jobIds.map(async (id) => (await harness.runtime.outcomes.get(id))!.attempts));
}

/**
 * Runs an outage of `outageMs` against a backlog of 60 bans (without the hold,
 * the retries alone would send about 80 calls into a 4 s outage) and returns
 * what the simulator saw.
 */
async function rideOut(name: string, outage: { code?: string; status?: number; html?: boolean }, outageMs = 4000) {
  h = await startHarness(name, { ...FAST_RETRIES, ...FAST_PROBES }, { latencyMs: { min: 5, max: 15 } });
  const jobIds = await enqueueBans(h, BACKLOG, name);
  const outageEnd = Date.now() + outageMs;
  h.sim.setFaults({ outage: { untilMs: outageEnd, ...outage } });
  h.startWorkers({ operations: ['ForbidLiveStream'] });
  const harness = h;
  await waitFor(async () => statusOf(await harness.status(), 'ForbidLiveStream').hold !== null, 10_000, 'a hold');
  const held = statusOf(await h.status(), 'ForbidLiveStream');
  const rows = await h.drained(BACKLOG, 60_000);
  const calls = h.sim.calls();
  return { held, row: statusOf(rows, 'ForbidLiveStream'), calls, outageEnd, attempts: await attemptsUsed(h, jobIds) };
}

describe('a systemic failure holds the operation instead of burning the backlog', () => {
  it('an InternalError outage longer than the retry window loses nothing', async () => {
    const { held, row, calls, outageEnd, attempts } = await rideOut('i500', {});
    expect(held.hold).toMatchObject({ reason: 'systemic', code: 'InternalError', nextProbeAt: expect.any(String) });
    expect(held.hold!.calls).toBeGreaterThanOrEqual(8);
    expect(row).toMatchObject({ applied: BACKLOG, deadLettered: 0, hold: null });

    // Full rate, with the retries, would have sent about 80 calls into the 4 s outage.
    const failing = calls.filter((c) => c.at < outageEnd);
    expect(failing.every((c) => c.code === 'InternalError')).toBe(true);
    expect(failing.length).toBeLessThanOrEqual(30);
    // Once the hold is in place (well within the first second), only probes go out.
    expect(failing.filter((c) => c.at > failing[0]!.at + 1000).length).toBeLessThanOrEqual(8);

    // The waiting jobs kept their attempts: at most the first failure of the streak counted.
    expect(attempts.filter((a) => a > 1).length).toBeLessThanOrEqual(1);
    expect(Math.max(...attempts)).toBeLessThanOrEqual(2);
  });

  it("a gateway's HTML 503 page is a service failure, not a network error, and holds the same way", async () => {
    const { held, row, calls, outageEnd } = await rideOut('i503', { html: true, status: 503 }, 2500);
    expect(held.hold).toMatchObject({ reason: 'systemic', code: 'HTTP503' });
    expect(row).toMatchObject({ applied: BACKLOG, deadLettered: 0 });
    expect(calls.filter((c) => c.at < outageEnd).length).toBeLessThanOrEqual(25);
  });

  it('an unknown code without the API\'s own answer (a gateway page) holds, and is never taken for a per-job dead letter', async () => {
    const { held, row } = await rideOut('iunknown', { code: 'Backend.Melted', status: 400, html: true }, 2500);
    expect(held.hold).toMatchObject({ reason: 'systemic', code: 'HTTP400' });
    expect(row).toMatchObject({ applied: BACKLOG, deadLettered: 0 });
  });

  it('probes back off to the cap while the outage lasts, one at a time', async () => {
    h = await startHarness('iprobe', { ...FAST_RETRIES, HOLD_PROBE_MS: '200', HOLD_PROBE_MAX_MS: '800' }, { latencyMs: { min: 5, max: 15 } });
    await enqueueBans(h, 60, 'iprobe');
    h.sim.setFaults({ outage: { durationMs: 60_000 } });
    h.startWorkers({ operations: ['ForbidLiveStream'] });
    const harness = h;
    await waitFor(async () => statusOf(await harness.status(), 'ForbidLiveStream').hold !== null, 10_000, 'a hold');
    const trippedAt = Date.now();
    await new Promise((r) => setTimeout(r, 5000));
    // Calls still in flight when the hold tripped have had their answers by now.
    const probes = h.sim.calls().filter((c) => c.at > trippedAt + 150).map((c) => c.at);
    // 200, 400, 800, 800, ... ms apart: about 7 probes in 5 s; full rate would be 100 calls.
    expect(probes.length).toBeGreaterThanOrEqual(4);
    expect(probes.length).toBeLessThanOrEqual(9);
    const gaps = probes.slice(1).map((t, i) => t - probes[i]!);
    // Never two probes at once, and from the third on, the cap is reached.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(150);
    expect(gaps.slice(2).every((g) => g >= 700)).toBe(true);
    const status = statusOf(await h.status(), 'ForbidLiveStream');
    expect(status.hold!.calls).toBeGreaterThanOrEqual(8 + probes.length);
    expect(Date.parse(status.hold!.nextProbeAt!)).toBeGreaterThan(Date.now() - 1000);
    expect(status.deadLettered).toBe(0);
  });

  it('after release the whole backlog goes through, within the QPS in every rolling second', async () => {
    h = await startHarness('iramp', { ...FAST_RETRIES, ...FAST_PROBES }, { latencyMs: { min: 5, max: 15 } });
    await enqueueBans(h, 80, 'iramp');
    const outageEnd = Date.now() + 3000;
    h.sim.setFaults({ outage: { untilMs: outageEnd } });
    h.startWorkers({ operations: ['ForbidLiveStream'] });
    const row = statusOf(await h.drained(80, 60_000), 'ForbidLiveStream');
    expect(row).toMatchObject({ applied: 80, deadLettered: 0, throttled: 0 });
    const calls = h.sim.calls();
    expect(maxInAnyWindow(calls.map((c) => c.at), 1000)).toBeLessThanOrEqual(QPS);
    const ok = calls.filter((c) => c.code === 'OK');
    // Released by the first probe after the outage (at most the 800 ms cap later); the ramp's rate is the bench's (outage scenario).
    expect(ok[0]!.at - outageEnd).toBeLessThan(1500);
    expect(ok).toHaveLength(80);
  });
});

describe('per-job answers never trip the hold', () => {
  it('100 StreamMonitorNotExist in a row are 100 dead letters', async () => {
    h = await startHarness('inotexist', { ...FAST_RETRIES, STOP_MONITOR_QPS: '50' }, { qps: { StopLiveStreamMonitor: 50 } });
    await h.intake.add('StopLiveStreamMonitor', Array.from({ length: 100 }, () => ({ params: { MonitorId: randomUUID() } })));
    h.startWorkers({ operations: ['StopLiveStreamMonitor'] });
    const row = statusOf(await h.drained(100, 30_000), 'StopLiveStreamMonitor');
    expect(row).toMatchObject({ deadLettered: 100, hold: null });
    expect(h.sim.calls().filter((c) => c.code === 'StreamMonitorNotExist')).toHaveLength(100);
    expect(await h.redis.exists(`${h.config.prefix}:hold:${h.config.account}:stop-monitor`)).toBe(0);
  });

  it('one job the service cannot handle is dead-lettered after its retries; the others drain', async () => {
    h = await startHarness('ipoison', { ...FAST_RETRIES, ...FAST_PROBES });
    h.sim.script({ action: 'ForbidLiveStream', match: { StreamName: 'ipoison-3' }, code: 'InternalError', status: 500 });
    await enqueueBans(h, 20, 'ipoison');
    h.startWorkers({ operations: ['ForbidLiveStream'] });
    const row = statusOf(await h.drained(20, 30_000), 'ForbidLiveStream');
    expect(row).toMatchObject({ applied: 19, deadLettered: 1, hold: null });
    expect(await h.deadLetters.list()).toMatchObject([{ code: 'InternalError', reason: 'retries-exhausted', attempts: 4 }]);
  });
});

describe('account-level answers hold at once and heal by themselves', () => {
  it('InvalidTimeStamp.Expired on every call holds (the clock), probes, and drains when it stops', async () => {
    h = await startHarness('iclock', { ...FAST_RETRIES, ...FAST_PROBES }, { latencyMs: { min: 5, max: 15 } });
    h.sim.script({ action: 'ForbidLiveStream', code: 'InvalidTimeStamp.Expired', status: 400 });
    await enqueueBans(h, 40, 'iclock');
    h.startWorkers({ operations: ['ForbidLiveStream'] });
    const harness = h;
    await waitFor(async () => statusOf(await harness.status(), 'ForbidLiveStream').hold !== null, 10_000, 'a hold');
    await new Promise((r) => setTimeout(r, 2000));
    const held = statusOf(await h.status(), 'ForbidLiveStream');
    expect(held.hold).toMatchObject({ reason: 'credentials', code: 'InvalidTimeStamp.Expired' });
    expect(held.deadLettered).toBe(0);
    // A few in flight, then probes only; full rate would be about 40 calls by now.
    expect(h.sim.calls().length).toBeLessThanOrEqual(16);
    h.sim.clearRules();
    const row = statusOf(await h.drained(40, 30_000), 'ForbidLiveStream');
    expect(row).toMatchObject({ applied: 40, deadLettered: 0, hold: null });
  });

  // Each code of the account's and the host's rows, as the table decides it...
  it.each([
    ['IllegalOperation', 401, 'hold-account', 'account'],
    ['UserQuotaExceed', 403, 'hold-account', 'account'],
    ['InvalidUserId.Malformed', 400, 'hold-account', 'account'],
    ['Forbidden', 403, 'hold-account', 'account'],
    ['Forbidden.RAM', 403, 'hold-account', 'account'],
    ['NoPermission', 403, 'hold-account', 'account'],
    ['MissingSecurityToken', 400, 'hold-host', 'credentials'],
    ['InvalidSecurityToken.Expired', 400, 'hold-host', 'credentials'],
    ['InvalidAccessKeyId.NotFound', 404, 'hold-host', 'credentials'],
    ['InvalidAccessKeyId.Inactive', 400, 'hold-host', 'credentials'],
    ['IncompleteSignature', 400, 'hold-host', 'credentials'],
    ['InvalidTimeStamp.Format', 400, 'hold-host', 'credentials'],
  ])('%s (HTTP %i) is %s (%s), never a dead letter', (code, httpStatus, outcome, holdReason) => {
    expect(classifyFailure({ code, httpStatus, network: false, requestId: 'r' })).toMatchObject({ outcome, holdReason });
  });

  // ...and one of each row end to end, through the workers.
  it.each([
    ['Forbidden.RAM', 403, 'account'],
    ['InvalidAccessKeyId.NotFound', 404, 'credentials'],
  ])('%s (HTTP %i) holds StopLiveStreamMonitor (%s) instead of dead-lettering', async (code, status, reason) => {
    h = await startHarness('icaller', { ...FAST_RETRIES, ...FAST_PROBES });
    const monitors = h.sim.createMonitors(10);
    h.sim.script({ action: 'StopLiveStreamMonitor', code, status, times: 3 });
    await h.intake.add('StopLiveStreamMonitor', monitors.map((MonitorId) => ({ params: { MonitorId } })));
    h.startWorkers({ operations: ['StopLiveStreamMonitor'], concurrency: 2 });
    const harness = h;
    await waitFor(async () => statusOf(await harness.status(), 'StopLiveStreamMonitor').hold !== null, 10_000, 'a hold');
    expect(statusOf(await h.status(), 'StopLiveStreamMonitor').hold).toMatchObject({ reason, code });
    // The cause goes away after three answers (a blip, like an STS refresh): a probe finds out.
    const row = statusOf(await h.drained(10, 30_000), 'StopLiveStreamMonitor');
    expect(row).toMatchObject({ applied: 10, deadLettered: 0, hold: null });
  });

  it('CredentialsUnavailable (the credential source fails mid-drain, as an STS endpoint can) holds the operation, then drains', async () => {
    h = await startHarness('icredsource', { ...FAST_RETRIES, ...FAST_PROBES });
    // The credentials library's extension point: a provider, here one whose source is down for its first 3 requests.
    let requests = 0;
    const source = {
      getProviderName: () => 'flaky-sts',
      getCredentials: async () => {
        if (requests++ < 3) throw new Error('connect ETIMEDOUT sts.aliyuncs.com');
        return { accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET, securityToken: '', providerName: 'flaky-sts' };
      },
    };
    await enqueueBans(h, 10, 'icredsource');
    h.startWorkers({ operations: ['ForbidLiveStream'], concurrency: 2, credential: providerCredential(source) });
    const harness = h;
    await waitFor(async () => statusOf(await harness.status(), 'ForbidLiveStream').hold !== null, 10_000, 'a hold');
    expect(statusOf(await h.status(), 'ForbidLiveStream').hold).toMatchObject({ reason: 'credentials', code: 'CredentialsUnavailable' });
    // Nothing reached the API while the source was down, and nothing was dead-lettered; a probe finds it back.
    const row = statusOf(await h.drained(10, 30_000), 'ForbidLiveStream');
    expect(row).toMatchObject({ applied: 10, deadLettered: 0, hold: null });
    expect(h.sim.calls().filter((c) => c.code !== 'OK')).toEqual([]);
  });
});

describe('visible and controllable', () => {
  it('status --json and the gauge say why; resume lifts a systemic hold at once', async () => {
    // A long first probe, so only `resume` can be what releases it.
    h = await startHarness('ivisible', { ...FAST_RETRIES, HOLD_PROBE_MS: '30000', HOLD_PROBE_MAX_MS: '30000' }, { latencyMs: { min: 5, max: 15 } });
    await enqueueBans(h, 40, 'ivisible');
    h.sim.setFaults({ outage: { durationMs: 60_000 } });
    h.startWorkers({ operations: ['ForbidLiveStream'] });
    const harness = h;
    await waitFor(async () => statusOf(await harness.status(), 'ForbidLiveStream').hold !== null, 10_000, 'a hold');

    const env = { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LOG_LEVEL: 'silent' };
    const status = startCli(['status', '--json'], env);
    expect(await status.exited).toBe(0);
    const forbid = (JSON.parse(status.stdout()) as { operation: string; hold: unknown }[]).find((r) => r.operation === 'ForbidLiveStream')!;
    expect(forbid.hold).toMatchObject({ reason: 'systemic', code: 'InternalError', calls: expect.any(Number), since: expect.any(String), nextProbeAt: expect.any(String) });
    const table = startCli(['status'], env);
    expect(await table.exited).toBe(0);
    expect(table.stdout()).toMatch(/HOLD forbid \(systemic\) since .*: InternalError x\d+ .*next probe .*livequeue resume forbid/);

    const registry = new Registry();
    registerQueueGauges(registry, h.redis, [h.runtime], createLogger('silent'));
    const metrics = await registry.metrics();
    expect(metrics).toContain('livequeue_operation_held{account="default",operation="ForbidLiveStream",reason="systemic"} 1');
    expect(metrics).toContain('livequeue_operation_held{account="default",operation="ForbidLiveStream",reason="credentials"} 0');

    h.sim.setFaults({ outage: null });
    const resumedAt = Date.now();
    const resume = startCli(['resume', 'forbid'], env);
    expect(await resume.exited).toBe(0);
    expect(resume.stdout()).toMatch(/resumed forbid: lifted the systemic hold \(InternalError/);
    const row = statusOf(await h.drained(40, 30_000), 'ForbidLiveStream');
    expect(row).toMatchObject({ applied: 40, deadLettered: 0, hold: null });
    expect(Date.now() - resumedAt).toBeLessThan(10_000);
  });

  it('pause holds by hand: no call until resume, and no probe', async () => {
    h = await startHarness('imanual', FAST_RETRIES);
    const env = { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LOG_LEVEL: 'silent' };
    const pause = startCli(['pause', 'forbid', '--reason', 'checking the classifier'], env);
    expect(await pause.exited).toBe(0);
    await enqueueBans(h, 10, 'imanual');
    h.startWorkers({ operations: ['ForbidLiveStream'] });
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.sim.calls()).toHaveLength(0);
    expect(statusOf(await h.status(), 'ForbidLiveStream').hold).toMatchObject({ reason: 'manual', message: 'checking the classifier', nextProbeAt: null });
    expect(await startCli(['resume', 'forbid'], env).exited).toBe(0);
    expect(statusOf(await h.drained(10, 15_000), 'ForbidLiveStream')).toMatchObject({ applied: 10 });
  });
});

describe('a ResumeTime that passes while the ban waits', () => {
  it('is dead-lettered with the reason, never sent as a ban that ends at once', async () => {
    h = await startHarness('iresume', FAST_RETRIES);
    await h.runtime.holds.pause('ForbidLiveStream', 'waiting on purpose');
    const soon = new Date(Date.now() + 1500).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const later = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const results = await h.intake.add('ForbidLiveStream', [
      { params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'late', ResumeTime: soon } },
      { params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'in-time', ResumeTime: later } },
    ]);
    expect(results.map((r) => r.status)).toEqual(['enqueued', 'enqueued']);
    h.startWorkers({ operations: ['ForbidLiveStream'] });
    await new Promise((r) => setTimeout(r, 2500));
    await h.runtime.holds.resume('ForbidLiveStream');
    const row = statusOf(await h.drained(2), 'ForbidLiveStream');
    expect(row).toMatchObject({ applied: 1, deadLettered: 1 });
    expect(await h.deadLetters.list()).toMatchObject([{ code: 'ResumeTimePassed', reason: 'terminal', message: expect.stringContaining(soon) }]);
    expect(h.sim.calls().map((c) => c.params.StreamName)).toEqual(['in-time']);
  });
});

describe('credentials', () => {
  it('a worker without credentials exits 2 before taking a job, naming what to set', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lq-nocreds-'));
    try {
      const worker = startCli(['worker'], { REDIS_URL, QUEUE_PREFIX: `lqtest-nocreds-${randomUUID()}`, HOME: home, LIVE_ENDPOINT: 'http://127.0.0.1:9' });
      expect(await worker.exited).toBe(2);
      expect(worker.output()).toMatch(/no usable Alibaba Cloud credentials/);
      expect(worker.output()).toContain('ALIBABA_CLOUD_ACCESS_KEY_ID');
      expect(worker.output()).not.toContain('workers started');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
