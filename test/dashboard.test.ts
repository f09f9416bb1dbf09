import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './helpers/harness.ts';
import { API_TOKEN, HTTP_ENV, startTestServer, type TestServer } from './helpers/http.ts';

/**
 * The dashboard in a real headless Chromium: it lists both operation queues
 * and the dead-letter queue, and shows a dead-lettered job with its error.
 * Screenshots go to test/.artifacts/. `.ci/run` installs Debian's chromium
 * and exports CHROMIUM_PATH; without a browser the suite is skipped, saying why.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
if (missing) console.warn(`dashboard.test.ts skipped: ${missing}`);

const ARTIFACTS = fileURLToPath(new URL('./.artifacts/', import.meta.url));
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe.skipIf(missing !== undefined)('dashboard in a real browser', () => {
  let h: Harness;
  let server: TestServer;
  let browser: Browser;
  let deadId: string;

  beforeAll(async () => {
    h = await startHarness('dashboard', HTTP_ENV);
    // One job dead-lettered for real (a monitor that does not exist), then a ban left waiting.
    const [dead] = await h.intake.add('StopLiveStreamMonitor', [{ params: { MonitorId: randomUUID() } }]);
    deadId = dead!.status === 'enqueued' ? dead!.jobId : '';
    const workers = h.startWorkers();
    await h.drained(1);
    await workers.close();
    h.workers = undefined;
    await h.intake.add('ForbidLiveStream', [{ params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'dash-1' } }]);
    server = await startTestServer(h.config);
    // playwright gives every launch a fresh temporary profile (user-data-dir).
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await h?.close();
  });

  it('does not let a browser in without the token', async () => {
    const anonymous = await browser.newContext();
    const wrong = await browser.newContext({ httpCredentials: { username: 'operator', password: 'not-the-api-token' } });
    try {
      // With nothing to answer the Basic challenge, Chromium gives up on the page.
      await expect((await anonymous.newPage()).goto(`${server.url}/ui/jobs/`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
      // With a wrong password it shows the 401 answer, not the dashboard.
      const page = await wrong.newPage();
      const response = await page.goto(`${server.url}/ui/jobs/`);
      expect(response?.status()).toBe(401);
      expect(await page.innerText('body')).toContain('unauthorized');
      expect(await page.innerText('body')).not.toContain('dead-letter');
    } finally {
      await anonymous.close();
      await wrong.close();
    }
  });

  it('shows the operation queues and the dead-letter queue, and the dead-lettered job with its error', async () => {
    // The token as the Basic-auth password, as a person would type it into the browser's prompt.
    const context = await browser.newContext({ httpCredentials: { username: 'operator', password: API_TOKEN }, viewport: { width: 1280, height: 800 } });
    try {
      const page = await context.newPage();
      const requested: string[] = [];
      page.on('request', (request) => requested.push(request.url()));
      // bull-board lives under the status page (/ui/, status-page.test.ts).
      const response = await page.goto(`${server.url}/ui/jobs/`);
      expect(response?.status()).toBe(200);
      for (const queue of ['forbid', 'stop-monitor', 'resume-stream', 'dead-letter']) {
        await page.getByRole('link', { name: queue, exact: true }).first().waitFor({ state: 'visible' });
      }
      // Overview cards with their job counts: the dead letter, the waiting ban, the drained monitor queue, no lifts.
      await page.getByText('1 Job', { exact: true }).first().waitFor({ state: 'visible' });
      expect(await page.getByText('1 Job', { exact: true }).count()).toBe(2);
      expect(await page.getByText('0 Jobs', { exact: true }).count()).toBe(2);
      // Everything the page loaded came from this server: no font CDN, nothing else.
      expect(requested.filter((url) => !url.startsWith(server.url))).toEqual([]);
      const overview = `${ARTIFACTS}dashboard-overview.png`;
      await page.screenshot({ path: overview, fullPage: true });
      expect(statSync(overview).size).toBeGreaterThan(10_000);

      await page.getByRole('link', { name: 'dead-letter', exact: true }).first().click();
      await page.waitForURL(/\/ui\/jobs\/queue\/dead-letter/);
      await page.getByText(deadId, { exact: true }).first().waitFor({ state: 'visible' });
      const text = await page.innerText('body');
      expect(text).toContain('StopLiveStreamMonitor');
      expect(text).toContain('"StreamMonitorNotExist"');
      expect(text).toContain('"terminal"');
      const deadLetters = `${ARTIFACTS}dashboard-dead-letter.png`;
      await page.screenshot({ path: deadLetters, fullPage: true });
      expect(statSync(deadLetters).size).toBeGreaterThan(10_000);
    } finally {
      await context.close();
    }
  });
});
