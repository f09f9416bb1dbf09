import { jobId } from '../src/queue/names.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createLogger } from '../src/log.ts';
import { registerQueueGauges } from '../src/metrics/queue-gauges.ts';
import { FAST_RETRIES, startHarness, statusOf, type Harness } from './helpers/harness.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The Live API misbehaving: lost answers, outages, a failing account, a full
 * blacklist. Every job still ends applied, already applied or dead-lettered
 * with its reason, and the QPS holds throughout.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const bans = (n: number, prefix: string, extra: Record<string, string> = {}) =>
  Array.from({ length: n }, (_, i) => ({ params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `${prefix}-${i}`, ...extra } }));

describe('an answer lost after the effect', () => {
  it('retries into "already applied", not into the dead-letter queue', async () => {
    // Lost answers are network failures several jobs share: they may hold the operation, and a probe ends the hold; probe soon.
    h = await startHarness('lost', { ...FAST_RETRIES, HOLD_PROBE_MS: '200', HOLD_PROBE_MAX_MS: '800' }, { faults: { dropAfterEffectRate: 1 } });
    const monitors = h.sim.createMonitors(5).map((MonitorId) => ({ params: { MonitorId } }));
    await h.intake.add('ForbidLiveStream', bans(5, 'lost'));
    await h.intake.add('StopLiveStreamMonitor', monitors);
    h.startWorkers();
    const sim = h.sim;
    // Every job's first call is applied and its answer lost.
    await waitFor(() => new Set(sim.calls().filter((c) => c.responseLost).map((c) => c.params.StreamName ?? c.params.MonitorId)).size >= 10);
    sim.setFaults({ dropAfterEffectRate: 0 });
    const rows = await h.drained(10);
    expect(statusOf(rows, 'ForbidLiveStream')).toMatchObject({ alreadyApplied: 5, deadLettered: 0 });
    expect(statusOf(rows, 'StopLiveStreamMonitor')).toMatchObject({ alreadyApplied: 5, deadLettered: 0 });
    // At least one retry each (a retry's answer may have been lost too, before the fault was lifted).
    expect(sim.stats().actions.ForbidLiveStream.byCode.ConfigAlreadyExists).toBeGreaterThanOrEqual(5);
    expect(sim.stats().actions.StopLiveStreamMonitor.byCode.StreamMonitorAlreadyStop).toBeGreaterThanOrEqual(5);
  });
});

describe('account-level failures hold instead of dead-lettering the backlog', () => {
  it('missing permissions hold the operation; resume lifts it at once; no job is burned', async () => {
    // Probes far apart, so that only `resume` can be what lifts the hold here.
    h = await startHarness('creds', { ...FAST_RETRIES, HOLD_PROBE_MS: '30000', HOLD_PROBE_MAX_MS: '30000' });
    await h.intake.add('ForbidLiveStream', bans(30, 'creds', { Oneshot: 'yes' }));
    // The account's RAM policy lacks live:ForbidLiveStream: every host's calls fail alike.
    h.sim.script({ action: 'ForbidLiveStream', code: 'NoPermission', status: 403, message: 'You are not authorized to do this action.' });
    const wrong = h.startWorkers({ concurrency: 4 });
    const harness = h;
    await waitFor(async () => statusOf(await harness.status(), 'ForbidLiveStream').hold !== null);
    await new Promise((r) => setTimeout(r, 500));
    const paused = statusOf(await h.status(), 'ForbidLiveStream');
    expect(paused.hold).toMatchObject({ reason: 'account', code: 'NoPermission', resume: 'livequeue resume forbid' });
    expect(paused.deadLettered).toBe(0);
    expect(paused.applied).toBe(0);
    // Only the few jobs already in flight met the error; the backlog was not tried.
    expect(h.sim.calls().length).toBeLessThanOrEqual(8);
    expect(paused.waiting + paused.delayed + paused.active).toBe(30);
    const registry = new Registry();
    registerQueueGauges(registry, h.redis, [h.runtime], createLogger('silent'));
    const metrics = await registry.metrics();
    expect(metrics).toContain('livequeue_operation_held{account="default",operation="ForbidLiveStream",reason="account"} 1');
    expect(metrics).toContain('livequeue_operation_held{account="default",operation="ForbidLiveStream",reason="systemic"} 0');
    expect(metrics).not.toMatch(/livequeue_operation_held\{account="default",operation="StopLiveStreamMonitor",reason="\w+"\} 1/);
    await wrong.close();

    // Permissions fixed, and the operator resumes.
    h.sim.clearRules();
    h.startWorkers({ concurrency: 4 });
    const resumeStarted = Date.now();
    await h.runtime.holds.resume('ForbidLiveStream');
    const sim = h.sim;
    await waitFor(() => sim.calls().some((c) => c.code === 'OK'));
    // At once: the gate opens with the hold, not at the next probe a minute away.
    expect(Date.now() - resumeStarted).toBeLessThan(3000);
    const rows = await h.drained(30);
    expect(statusOf(rows, 'ForbidLiveStream')).toMatchObject({ applied: 30, deadLettered: 0, hold: null });
    const jobs = h.sim.calls().filter((c) => c.code === 'OK');
    expect(jobs).toHaveLength(30);
    // No job burned an attempt on the hold: each ended on its first counted attempt.
    const outcomes = await Promise.all(bans(30, 'creds', { Oneshot: 'yes' }).map((b) => h!.runtime.outcomes.get(jobId('ForbidLiveStream', 'default', b.params as never))));
    expect(outcomes.map((o) => o?.attempts)).toEqual(Array(30).fill(1));
  });

  it('a full blacklist holds only the bans that add to it, re-checks, and goes on when room frees', async () => {
    h = await startHarness('blacklist', { ...FAST_RETRIES, BLACKLIST_RECHECK_MS: '1000' }, { blacklistCap: 3 });
    // Three bans that lift themselves in two seconds fill the blacklist.
    const soon = new Date(Date.now() + 2500).toISOString().replace(/\.\d+Z$/, 'Z');
    await h.intake.add('ForbidLiveStream', bans(3, 'short', { ResumeTime: soon }));
    h.startWorkers({ concurrency: 2 });
    await h.drained(3);
    await h.intake.add('ForbidLiveStream', bans(2, 'held'));
    await h.intake.add('ForbidLiveStream', bans(4, 'interrupt', { Oneshot: 'yes' }));
    const harness = h;
    await waitFor(async () => statusOf(await harness.status(), 'ForbidLiveStream').hold !== null);
    const held = statusOf(await h.status(), 'ForbidLiveStream');
    expect(held.hold).toMatchObject({ reason: 'blacklist', code: 'QuotaExceeded.Blacklist' });
    expect(held.deadLettered).toBe(0);

    // Interrupt-only bans go on while the blacklist is full; the held ones end applied once it has room.
    const rows = await h.drained(3 + 2 + 4, 20_000);
    expect(statusOf(rows, 'ForbidLiveStream')).toMatchObject({ applied: 9, deadLettered: 0 });
    const answers = h.sim.calls().map((c) => `${c.params.StreamName}:${c.code}`);
    expect(answers.filter((a) => a.startsWith('interrupt'))).toEqual(expect.arrayContaining(['interrupt-0:OK', 'interrupt-1:OK', 'interrupt-2:OK', 'interrupt-3:OK']));
    expect(answers.filter((a) => a.endsWith('QuotaExceeded.Blacklist')).length).toBeGreaterThanOrEqual(1);
    expect(h.sim.isBlacklisted('demo.aliyundoc.com', 'liveApp', 'held-0')).toBe(true);
    // While, not eventually: every interrupt-only ban was applied before the first held ban got in,
    // that is while the blacklist was full and the hold was on.
    const okAt = (prefix: string) => h!.sim.calls().filter((c) => c.code === 'OK' && c.params.StreamName!.startsWith(prefix)).map((c) => c.at);
    const firstHeldIn = Math.min(...okAt('held'));
    const firstRefused = Math.min(...h.sim.calls().filter((c) => c.code === 'QuotaExceeded.Blacklist').map((c) => c.at));
    expect(okAt('interrupt')).toHaveLength(4);
    for (const at of okAt('interrupt')) expect(at).toBeLessThan(firstHeldIn);
    expect(Math.max(...okAt('interrupt'))).toBeGreaterThan(firstRefused);
  });
});

describe('graceful shutdown', () => {
  it('lets in-flight calls finish and leaves nothing active', async () => {
    h = await startHarness('shutdown', FAST_RETRIES, { latencyMs: { min: 800, max: 800 } });
    await h.intake.add('ForbidLiveStream', bans(40, 'slow', { Oneshot: 'yes' }));
    const workers = h.startWorkers({ concurrency: 4, operations: ['ForbidLiveStream'] });
    const sim = h.sim;
    await waitFor(() => sim.calls().length >= 3);
    const sentBeforeClose = sim.calls().length;
    await workers.close();
    h.workers = undefined;
    const row = statusOf(await h.status(), 'ForbidLiveStream');
    expect(row.active).toBe(0);
    // Every call that was sent got its answer and its job finished.
    expect(row.applied).toBe(sim.calls().length);
    expect(row.applied).toBeGreaterThanOrEqual(sentBeforeClose);
    expect(row.applied + row.waiting).toBe(40);
  });
});
