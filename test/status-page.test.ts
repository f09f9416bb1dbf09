import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, statusOf, type Harness } from './helpers/harness.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';
import type { OperationStatus } from '../src/ledger/status.ts';

/**
 * The status page at /ui/ and the JSON routes it reads, against a real
 * `livequeue worker` and `livequeue serve` and the simulator: a drain of bans
 * that an outage holds midway. The routes are checked without a browser; the
 * page in Debian's Chromium (skipped without one, saying why; CI installs it)
 * must show what `livequeue status --json` and the batch's counts say, and load
 * nothing from anywhere but the server.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const noBrowser = existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
if (noBrowser) console.warn(`status-page.test.ts: the browser tests are skipped: ${noBrowser}`);

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ARTIFACTS = join(ROOT, 'test/.artifacts');
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const DOMAIN = 'demo.aliyundoc.com';
/** Two named tokens: the on-call engineer may enqueue and act, the viewer only look. */
const ONCALL = 'oncall-token-Hq3vX8mK2pL7';
const VIEWER = 'viewer-token-Wn5cR1tY6zB4';

let h: Harness;
let worker: RunningProcess;
let serve: RunningProcess;
let url: string;
let env: Record<string, string>;
let tokensDir: string;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * `livequeue serve` runs dist/: `npm run build` copies the page's files there;
 * the tests' incremental build (helpers/compiled-cli.ts) compiles only, so copy them as the build does.
 */
function copyPageFiles(): void {
  const from = join(ROOT, 'src/http/status-page');
  const to = join(ROOT, 'dist/src/http/status-page');
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) copyFileSync(join(from, name), join(to, name));
}

async function get<T>(path: string, token = ONCALL): Promise<T> {
  const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status, `${path}: ${await response.clone().text()}`).toBe(200);
  return (await response.json()) as T;
}

async function post(path: string, body: unknown, token = ONCALL): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return (await response.json()) as Record<string, unknown>;
}

const bans = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ DomainName: DOMAIN, AppName: 'liveApp', StreamName: `${prefix}-${i}` }));

beforeAll(async () => {
  copyPageFiles();
  h = await startHarness('status-page');
  h.sim.seedBlacklist(DOMAIN, 120);
  tokensDir = mkdtempSync(join(tmpdir(), 'lq-page-'));
  const tokensFile = join(tokensDir, 'tokens.json');
  writeFileSync(tokensFile, JSON.stringify([{ name: 'oncall', tokenSha256: sha256(ONCALL), scopes: ['enqueue', 'operate', 'read'] }, { name: 'viewer', tokenSha256: sha256(VIEWER), scopes: ['read'] }]));
  env = { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LIVE_ENDPOINT: h.endpoint, ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'info', LIVE_DOMAINS: DOMAIN, HOLD_PROBE_MS: '5000', HOLD_PROBE_MAX_MS: '10000' };
  worker = startCli(['worker', '--operations', 'forbid'], { ...env, METRICS_PORT: '0' });
  serve = startCli(['serve'], { ...env, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', LIVEQUEUE_API_TOKENS_FILE: tokensFile });
  await Promise.all([waitForOutput(worker, (o) => o.includes('workers started')), waitForOutput(serve, (o) => /"url":"http:\/\/127\.0\.0\.1:\d+"/.test(o))]);
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(serve.output())![1]!;
});
afterAll(async () => {
  for (const p of [worker, serve]) p?.child.kill('SIGTERM');
  await Promise.all([worker?.exited, serve?.exited]);
  await h?.close();
  if (tokensDir) rmSync(tokensDir, { recursive: true, force: true });
});

interface Calls {
  operations: { operation: string; quota: number; series: [number, number][] }[];
}
interface Recent {
  batch: string;
  operation: string;
  by?: { actor: string; reason?: string };
  jobs: number;
  applied: number;
  alreadyApplied: number;
  deadLettered: number;
  cancelled: number;
  pending: number;
}

describe('the JSON routes of the status page', () => {
  it('GET /v1/calls has, for each second, the calls the simulator saw in it (counted in the second they were sent)', async () => {
    await post('/v1/forbid', { batch: 'warm-up', reason: 'spam ring', jobs: bans('warm', 50) });
    await waitFor(async () => (await h.runtime.batches.show('warm-up')).applied === 50, 20_000, 'the warm-up batch applied');
    const { operations } = await get<Calls>('/v1/calls?seconds=120');
    const forbid = operations.find((o) => o.operation === 'ForbidLiveStream')!;
    expect(forbid.quota).toBe(20);
    expect(forbid.series).toHaveLength(120);
    const seen = new Map<number, number>();
    for (const call of h.sim.calls().filter((c) => c.action === 'ForbidLiveStream')) seen.set(Math.floor(call.at / 1000), (seen.get(Math.floor(call.at / 1000)) ?? 0) + 1);
    // Every call the simulator saw (50 bans, and any call that failed and was tried again), and no other.
    expect(forbid.series.reduce((n, [, calls]) => n + calls, 0)).toBe([...seen.values()].reduce((a, b) => a + b, 0));
    // Running totals: a call counts in the second it was sent, which is the
    // second the simulator saw it arrive, or the one before (sent at its very end).
    let counted = 0;
    let sawUpTo = 0;
    for (const [second, calls] of forbid.series) {
      counted += calls;
      sawUpTo += seen.get(second) ?? 0;
      expect(counted, `calls counted up to second ${second}`).toBeGreaterThanOrEqual(sawUpTo);
      expect(counted, `calls counted up to second ${second}`).toBeLessThanOrEqual(sawUpTo + (seen.get(second + 1) ?? 0));
    }
    // The other operations made no call.
    for (const o of operations.filter((x) => x.operation !== 'ForbidLiveStream')) expect(o.series.every(([, n]) => n === 0)).toBe(true);
    const bad = await fetch(`${url}/v1/calls?seconds=901`, { headers: { authorization: `Bearer ${VIEWER}` } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('seconds must be at most 900');
  });

  it('GET /v1/batches lists the recent batches, newest first, with actor and progress as batch show counts them', async () => {
    await post('/v1/forbid', { batch: 'second', jobs: bans('second', 3) });
    await waitFor(async () => (await h.runtime.batches.show('second')).applied === 3, 10_000, 'the second batch applied');
    const { batches } = await get<{ batches: Recent[] }>('/v1/batches', VIEWER);
    expect(batches.map((b) => b.batch)).toEqual(['second', 'warm-up']);
    expect(batches[1]).toMatchObject({ operation: 'ForbidLiveStream', by: { actor: 'oncall', reason: 'spam ring' }, jobs: 50, applied: 50, alreadyApplied: 0, deadLettered: 0, cancelled: 0, pending: 0 });
    const shown = await h.runtime.batches.show('second');
    expect(batches[0]).toMatchObject({ jobs: shown.jobs, applied: shown.applied, alreadyApplied: shown.alreadyApplied, deadLettered: shown.deadLettered, cancelled: shown.cancelled });
    expect((await get<{ batches: Recent[] }>(`/v1/batches?since=${new Date(Date.now() + 60_000).toISOString()}`)).batches).toEqual([]);
    expect((await fetch(`${url}/v1/batches?since=yesterday`, { headers: { authorization: `Bearer ${VIEWER}` } })).status).toBe(400);
  });

  it('GET /v1/whoami names the token and its scopes, never the token', async () => {
    expect(await get('/v1/whoami')).toEqual({ actor: 'oncall', scopes: ['enqueue', 'operate', 'read'] });
    expect(await get('/v1/whoami', VIEWER)).toEqual({ actor: 'viewer', scopes: ['read'] });
    expect((await fetch(`${url}/v1/whoami`)).status).toBe(401);
    const page = await fetch(`${url}/ui/`, { headers: { authorization: `Bearer ${VIEWER}` } });
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(page.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    const html = await page.text();
    expect(html).not.toMatch(/<script>|<style>| style=/);
    expect(html).not.toContain(VIEWER);
  });
});

/** What the page shows for ForbidLiveStream, the blacklist and one batch. */
async function pageFigures(page: Page, batch: string) {
  const op = page.locator('[data-op="ForbidLiveStream"]');
  const text = async (locator: ReturnType<Page['locator']>) => (await locator.first().innerText()).trim();
  return {
    waiting: Number(await text(op.locator('[data-field="waiting"]'))),
    active: Number(await text(op.locator('[data-field="active"]'))),
    holdReason: await text(op.locator('[data-field="hold-reason"]')),
    holdCode: await text(op.locator('[data-field="hold-code"]')),
    headroom: Number(await text(page.locator('[data-field="blacklist-headroom"]'))),
    entries: Number(await text(page.locator('[data-field="blacklist-entries"]'))),
    progress: await text(page.locator(`tr[data-batch="${batch}"] [data-field="progress"]`)),
  };
}

async function statusJson(): Promise<OperationStatus> {
  const run = await runCli(['status', '--json'], env);
  expect(run.code, run.output).toBe(0);
  return statusOf(JSON.parse(run.stdout) as OperationStatus[], 'ForbidLiveStream');
}

describe.skipIf(noBrowser !== undefined)('the status page in a real browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('mid-drain, held by an outage: shows what status --json and the batch say, loads nothing from elsewhere, cancels after a confirmation', async () => {
    // A drain under way, then an outage: the hold trips and the rest of the batch waits.
    await post('/v1/forbid', { batch: 'big', reason: 'raid', jobs: bans('big', 400) });
    await waitFor(async () => (await h.runtime.batches.show('big')).applied >= 30, 15_000, 'part of the batch applied');
    h.sim.setFaults({ outage: { durationMs: 120_000 } });
    await waitFor(async () => statusOf(await h.status(), 'ForbidLiveStream').hold !== null, 15_000, 'a hold');

    const context = await browser.newContext({ httpCredentials: { username: 'operator', password: ONCALL }, viewport: { width: 1280, height: 800 } });
    try {
      const page = await context.newPage();
      const requested: string[] = [];
      const problems: string[] = [];
      page.on('request', (request) => requested.push(request.url()));
      page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
      page.on('pageerror', (error) => problems.push(error.message));
      expect((await page.goto(`${url}/ui/`))?.status()).toBe(200);
      await page.locator('[data-op="ForbidLiveStream"] [data-field="hold-code"]').waitFor({ state: 'visible', timeout: 10_000 });
      await page.locator('tr[data-batch="big"]').waitFor({ state: 'visible' });

      // The page's refresh between two reads of `livequeue status --json` (and of the batch) that agree
      // must show what they say; reads that disagree (a probe moved a job meanwhile) are taken again.
      const expected = async () => {
        // The batch's counters, as GET /v1/batches lists them. batch show, which walks every job, was
        // seen one applied job above them (and above status's applied total) under the hold: not the page's.
        const [row, counts] = await Promise.all([statusJson(), h.runtime.batches.recent(0).then((all) => all.find((b) => b.batch === 'big')!)]);
        return {
          waiting: row.waiting, active: row.active, holdReason: row.hold?.reason, holdCode: row.hold?.code,
          headroom: row.blacklist?.headroom, entries: row.blacklist?.entries,
          progress: `${counts.applied + counts.alreadyApplied + counts.deadLettered + counts.cancelled} / ${counts.jobs}`,
        };
      };
      let last: { before: unknown; shown: Awaited<ReturnType<typeof pageFigures>>; after: unknown } | undefined;
      await waitFor(async () => {
        const since = new Date().toISOString();
        const before = await expected();
        // A refresh whose reads began after `before` began (data-refreshed is the overview's `at`).
        await page.waitForFunction((t) => (document.body.getAttribute('data-refreshed') ?? '') >= t, since, { timeout: 5000 });
        const shown = await pageFigures(page, 'big');
        last = { before, shown, after: await expected() };
        return JSON.stringify(before) === JSON.stringify(last.after);
      }, 20_000, 'two status reads that agree around a refresh');
      expect(last!.shown).toEqual(last!.before);
      const { shown } = last!;
      expect(shown.holdReason).toBe('systemic');
      expect(shown.waiting).toBeGreaterThan(100);
      expect(shown.entries).toBeGreaterThanOrEqual(120);
      // The chart drew the calls of the last 15 minutes from the first load.
      expect(Number(await page.locator('[data-op="ForbidLiveStream"]').getAttribute('data-calls-total'))).toBeGreaterThanOrEqual(83);
      expect(await page.locator('[data-op="ForbidLiveStream"] canvas').count()).toBe(1);
      // Audit events arrive over the SSE stream (the warm-up ones were before the page opened: these are the outage's probes or none).
      expect(await page.locator('#events-state').innerText()).toContain('live');

      await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
      expect(statSync(join(ARTIFACTS, 'status-page.png')).size).toBeGreaterThan(20_000);

      // Cancel, through the confirmation that says what is pending.
      await page.locator('tr[data-batch="big"] button[data-action="cancel"]').click();
      const dialog = page.locator('#confirm');
      await dialog.waitFor({ state: 'visible' });
      const pending = (await h.runtime.batches.recent(0)).find((b) => b.batch === 'big')!.pending;
      expect(await dialog.innerText()).toMatch(/\d+ pending job\(s\) of 400 would be cancelled/);
      await page.locator('#confirm-ok').click();
      await page.locator('#confirm-result').filter({ hasText: 'cancel:' }).waitFor({ timeout: 10_000 });
      const counts = await h.runtime.batches.show('big');
      expect(counts.cancelled).toBeGreaterThan(0);
      expect(counts.cancelled).toBeLessThanOrEqual(pending);
      expect(counts.waiting).toBe(0);

      expect(requested.length).toBeGreaterThan(5);
      expect(requested.filter((u) => !u.startsWith(`${url}/`))).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      h.sim.setFaults({ outage: null });
    }
  });

  it('shows no cancel or undo button to a token without the operate scope', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'viewer', password: VIEWER }, viewport: { width: 390, height: 844 } });
    try {
      const page = await context.newPage();
      await page.goto(`${url}/ui/`);
      await page.locator('tr[data-batch="warm-up"]').waitFor({ state: 'visible' });
      await page.locator('#whoami').filter({ hasText: 'viewer (read)' }).waitFor();
      expect(await page.locator('button[data-action]').count()).toBe(0);
      // On a phone the grid is one column: nothing wider than the screen but the batches' own scroller.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    } finally {
      await context.close();
    }
  });
});
