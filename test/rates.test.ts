import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultBucketSettings, TokenBucket } from '../src/ratelimit/token-bucket.ts';
import { bucketKey, rateOverrideKey } from '../src/queue/names.ts';
import type { OperationStatus } from '../src/ledger/status.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { API_TOKEN, startTestServer, type TestServer } from './helpers/http.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { parseMetrics, valueOf } from './helpers/prometheus.ts';
import { REDIS_URL } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * An operator changes an operation's rate at runtime: `livequeue rate set`
 * (or POST /v1/rates/:operation) stores it in Redis, bucket.lua reads it on
 * every reservation, and a running `livequeue worker` follows it within a
 * second, as the simulator counts the calls. Status, /metrics and the audit
 * trail show it.
 */
const TOKENS = { reader: 'reader-token-Hq3vN8xK2pL7', ops: 'ops-token-Zk7pF2nV6sQ8ab' };
const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const dir = mkdtempSync(join(tmpdir(), 'livequeue-rates-'));
const TOKENS_FILE = join(dir, 'tokens.json');
writeFileSync(TOKENS_FILE, JSON.stringify([
  { name: 'reader', tokenSha256: sha(TOKENS.reader), scopes: ['read'] },
  { name: 'ops', tokenSha256: sha(TOKENS.ops), scopes: ['operate', 'read'] },
]));

let h: Harness;
let env: Record<string, string>;
let worker: RunningProcess;
let server: TestServer;

beforeAll(async () => {
  h = await startHarness('rates', { FORBID_QPS: '20', LIVEQUEUE_API_TOKEN: API_TOKEN, LIVEQUEUE_API_TOKENS_FILE: TOKENS_FILE, HTTP_HOST: '127.0.0.1' }, { qps: { ForbidLiveStream: 20 } });
  env = { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LIVE_ENDPOINT: h.endpoint, FORBID_QPS: '20', ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'warn' };
  worker = startCli(['worker', '--operations', 'forbid'], { ...env, LOG_LEVEL: 'info', METRICS_PORT: '0' });
  await waitForOutput(worker, (o) => o.includes('workers started'));
  server = await startTestServer(h.config);
});
afterAll(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.exited;
  await server?.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

const cli = async (args: string[], input?: string) => {
  const run = await runCli(args, env, input);
  expect(run.code, run.output).toBe(0);
  return run;
};
const forbidRow = async () => (JSON.parse((await cli(['status', '--json'])).stdout) as OperationStatus[]).find((r) => r.operation === 'ForbidLiveStream')!;
const forbidCalls = () => h.sim.calls().filter((c) => c.action === 'ForbidLiveStream' && c.code === 'OK').map((c) => c.at);

/** The most calls in any rolling second that lies wholly within [from, to]. */
function maxPerSecond(times: readonly number[], from: number, to: number): number {
  const inside = times.filter((t) => t >= from && t <= to);
  return Math.max(0, ...inside.filter((t) => t + 1000 <= to).map((t) => inside.filter((u) => u >= t && u < t + 1000).length));
}
const callsBetween = (times: readonly number[], from: number, to: number) => times.filter((t) => t >= from && t < to).length;

describe('changing a rate at runtime', () => {
  it('a running worker follows `rate set` within a second and climbs back after `rate reset`', async () => {
    const bans = Array.from({ length: 250 }, (_, i) => JSON.stringify({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `r${i}` })).join('\n');
    await cli(['enqueue', 'forbid', '--file', '-'], bans);
    await waitFor(() => forbidCalls().length >= 20, 10_000, 'the backlog drains at the configured rate');

    await cli(['rate', 'set', 'forbid', '5', '--reason', 'x']);
    const setAt = Date.now();
    await sleep(4000);
    const resetStart = Date.now();
    await cli(['rate', 'reset', 'forbid']);
    const resetAt = Date.now();
    await sleep(2500);

    const times = forbidCalls();
    const slow = maxPerSecond(times, setAt + 1000, resetStart);
    const fast = callsBetween(times, resetAt + 1000, resetAt + 2000);
    console.log(`forbid calls per rolling second: at most ${slow} while set to 5 (from 1 s after the command), ${fast} in the second after reset + 1 s`);
    // 5 a second, plus the one slot GCRA may have booked at the old spacing.
    expect(slow).toBeLessThanOrEqual(6);
    // It went on at the set rate, not stopped.
    expect(callsBetween(times, setAt + 1000, resetStart)).toBeGreaterThanOrEqual(10);
    // About 20 again (a busy machine may lose a few slots): far above the 5 it was held to.
    expect(fast).toBeGreaterThanOrEqual(14);
    expect(maxPerSecond(times, 0, Date.now())).toBeLessThanOrEqual(20);
  }, 25_000);

  it('`--for` ends by itself; status, the table and /metrics show the override while it lasts', async () => {
    await cli(['rate', 'set', 'forbid', '8', '--for', '2s', '--reason', 'timed', '--actor', 'oncall-ana']);
    const row = await forbidRow();
    expect(row.configuredRate).toBe(20);
    expect(row.rateOverride).toMatchObject({ rate: 8, actor: 'oncall-ana', reason: 'timed' });
    expect(Date.parse(row.rateOverride!.until!) - Date.now()).toBeLessThanOrEqual(2000);
    expect(row.currentRate).toBeLessThanOrEqual(8);
    expect((await cli(['status'])).stdout).toMatch(/^RATE forbid set to 8 by oncall-ana until \d{4}-\d\d-\d\dT[\d:.]+Z \(timed\)/m);
    const metrics = parseMetrics(await (await server.request('/metrics', { auth: false })).text());
    expect(valueOf(metrics, 'livequeue_bucket_rate_override', { operation: 'ForbidLiveStream' })).toBe(8);
    expect(valueOf(metrics, 'livequeue_bucket_configured_rate', { operation: 'ForbidLiveStream' })).toBe(20);

    await waitFor(async () => (await forbidRow()).rateOverride === undefined, 5000, 'the timed override to end');
    expect((await cli(['status'])).stdout).not.toMatch(/^RATE /m);
  }, 15_000);

  it('refuses a rate above the configured one without --allow-above-config, and one of 0 or below (exit 2)', async () => {
    const above = await runCli(['rate', 'set', 'forbid', '25'], env);
    expect(above.code).toBe(2);
    expect(above.output).toMatch(/<rate> 25 is above the configured 20 .*FORBID_QPS.*--allow-above-config/);
    const zero = await runCli(['rate', 'set', 'forbid', '0'], env);
    expect(zero.code).toBe(2);
    expect(zero.output).toMatch(/<rate> must be a number of calls per second above 0/);
    const badFor = await runCli(['rate', 'set', 'forbid', '5', '--for', 'soon'], env);
    expect(badFor.code).toBe(2);
    expect(badFor.output).toMatch(/--for must be/);
    expect((await forbidRow()).rateOverride).toBeUndefined();

    await cli(['rate', 'set', 'forbid', '25', '--allow-above-config']);
    expect((await forbidRow()).rateOverride).toMatchObject({ rate: 25 });
    await cli(['rate', 'reset', 'forbid']);
    expect((await forbidRow()).rateOverride).toBeUndefined();
  }, 20_000);

  it('over HTTP: operate scope sets and resets, read scope is refused; every change is in the audit trail', async () => {
    const call = (token: string, method: 'POST' | 'DELETE', json: unknown) => server.request('/v1/rates/forbid', { auth: false, method, json, headers: { authorization: `Bearer ${token}` } });
    const refused = await call(TOKENS.reader, 'POST', { rate: 7 });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'missing-scope' });

    const above = await call(TOKENS.ops, 'POST', { rate: 30 });
    expect(above.status).toBe(400);
    expect(await above.json()).toMatchObject({ errors: [{ field: 'rate', message: expect.stringMatching(/allowAboveConfig/) }] });
    expect((await call(TOKENS.ops, 'POST', { rate: -1 })).status).toBe(400);

    const set = await call(TOKENS.ops, 'POST', { rate: 7, for: '1h', reason: 'http', ticket: 'INC-9' });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ operation: 'ForbidLiveStream', configuredRate: 20, rateOverride: { rate: 7, actor: 'ops', reason: 'http' } });
    expect((await forbidRow()).rateOverride).toMatchObject({ rate: 7, actor: 'ops' });
    expect((await call(TOKENS.reader, 'DELETE', {})).status).toBe(403);
    const reset = await call(TOKENS.ops, 'DELETE', {});
    expect(reset.status).toBe(200);
    expect(await reset.json()).toMatchObject({ rateOverride: null });
    expect((await forbidRow()).rateOverride).toBeUndefined();

    const acts = (await cli(['audit', 'export', '--since', '1h'])).stdout.trim().split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((r) => r.act === 'rate')
      .map((r) => [r.actor, r.reason, r.ticket, r.operation, r.counts]);
    expect(acts).toEqual([
      [expect.stringMatching(/^cli:/), 'x', undefined, 'ForbidLiveStream', { rate: 5 }],
      [expect.stringMatching(/^cli:/), undefined, undefined, 'ForbidLiveStream', { reset: 1 }],
      ['oncall-ana', 'timed', undefined, 'ForbidLiveStream', { rate: 8 }],
      [expect.stringMatching(/^cli:/), undefined, undefined, 'ForbidLiveStream', { rate: 25 }],
      [expect.stringMatching(/^cli:/), undefined, undefined, 'ForbidLiveStream', { reset: 1 }],
      ['ops', 'http', 'INC-9', 'ForbidLiveStream', { rate: 7 }],
      ['ops', undefined, undefined, 'ForbidLiveStream', { reset: 1 }],
    ]);
  }, 20_000);

  it('in the bucket: the override sets the spacing and caps AIMD, which recovers to it', async () => {
    const key = bucketKey(`${h.config.prefix}:unit`, 'default', 'StopLiveStreamMonitor');
    const overrideKey = rateOverrideKey(`${h.config.prefix}:unit`, 'default', 'StopLiveStreamMonitor');
    const bucket = new TokenBucket(h.redis, key, { ...defaultBucketSettings(10, 0), recoveryPerSecond: 0.5 }, overrideKey);
    await bucket.setOverride({ rate: 4, actor: 'test' });
    expect((await bucket.reserve(1)).intervalMs).toBeCloseTo(250, 6);
    // Repeated throttles slow it below the override (0.7 x 4), and it climbs back to 4, not to the configured 10.
    expect(await bucket.onThrottled()).toBe(4);
    expect(await bucket.onThrottled()).toBe(4);
    expect(await bucket.onThrottled()).toBeCloseTo(2.8, 6);
    // Fast to 95% of the rate it was throttled at (0.5 s), slowly across the rest (0.5 s).
    await sleep(1700);
    expect(await bucket.state()).toMatchObject({ currentRate: 4, configuredRate: 10, override: { rate: 4 } });
    await bucket.resetOverride();
    expect((await bucket.state()).currentRate).toBeGreaterThan(4);
  }, 10_000);
});
