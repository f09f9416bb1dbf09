import { PassThrough } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.ts';
import { AlibabaLiveClient, staticCredential } from '../src/live/client.ts';
import { registerQueueGauges } from '../src/metrics/queue-gauges.ts';
import { blacklistKeys } from '../src/queue/names.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { startTestServer } from './helpers/http.ts';
import { runCli } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';
import { startBlacklistRefresh } from '../src/blacklist/refresh.ts';

/** The 10,000-stream blacklist: read with DescribeLiveStreamsBlockList, shown, and warned about before a batch overflows it. */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ban = (domain: string, stream: string, extra: Record<string, string> = {}) => JSON.stringify({ DomainName: domain, AppName: 'liveApp', StreamName: stream, ...extra });
const envOf = (harness: Harness, extra: Record<string, string> = {}) => ({
  REDIS_URL, QUEUE_PREFIX: harness.config.prefix, LIVE_ENDPOINT: harness.endpoint, LOG_LEVEL: 'silent',
  ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, ...extra,
});

describe('DescribeLiveStreamsBlockList', () => {
  it('pages through one domain\'s banned streams', async () => {
    h = await startHarness('blocklist-pages');
    h.sim.seedBlacklist('a.example.com', 5);
    h.sim.seedBlacklist('b.example.com', 2);
    const client = new AlibabaLiveClient({ endpoint: h.endpoint, regionId: 'cn-shanghai', timeoutMs: 2000, credential: staticCredential(ACCESS_KEY_ID, ACCESS_KEY_SECRET) });
    const first = await client.describeBlockList('a.example.com', 1, 2);
    const last = await client.describeBlockList('a.example.com', 3, 2);
    expect(first).toMatchObject({ ok: true, totalNum: 5, totalPage: 3, streamUrls: ['a.example.com/seeded/seeded-0', 'a.example.com/seeded/seeded-1'] });
    expect(last).toMatchObject({ ok: true, totalNum: 5, streamUrls: ['a.example.com/seeded/seeded-4'] });
    expect(await client.describeBlockList('b.example.com', 1, 2000)).toMatchObject({ totalNum: 2 });
    expect(await client.describeBlockList('a.example.com', 1, 3001)).toMatchObject({ ok: false, code: 'InvalidParameter' });
  });
});

describe('blacklist headroom', () => {
  it('reads every domain the account bans in plus LIVE_DOMAINS; status, gauges and `livequeue blacklist` show it', async () => {
    h = await startHarness('headroom');
    h.sim.seedBlacklist('c.example.com', 4);
    const env = envOf(h, { LIVE_DOMAINS: 'c.example.com' });
    const input = [ban('a.example.com', 's1'), ban('a.example.com', 's2', { ResumeTime: '2031-01-01T00:00:00Z' }), ban('a.example.com', 's3'), ban('b.example.com', 's4'), ban('d.example.com', 'one', { Oneshot: 'yes' })].join('\n');
    expect((await runCli(['enqueue', 'forbid', '--file', '-'], env, input)).code).toBe(0);
    h.startWorkers({ operations: ['ForbidLiveStream'] });
    await h.drained(5);

    const read = await runCli(['blacklist', '--refresh', '--json'], env);
    expect(read.code).toBe(0);
    const headroom = JSON.parse(read.stdout);
    // Oneshot bans never reach the blacklist, so their domain is not read.
    expect(headroom).toMatchObject({
      account: 'default', cap: 10_000, entries: 8, headroom: 9_992,
      domains: [{ domain: 'a.example.com', entries: 3 }, { domain: 'b.example.com', entries: 1 }, { domain: 'c.example.com', entries: 4 }],
      checkedAt: expect.any(String),
      // s1, s3 and s4 carry no ResumeTime: each holds its place for six months.
      permanentBans: 3,
    });
    expect(h.sim.calls().filter((c) => c.action === 'DescribeLiveStreamsBlockList')).toHaveLength(3);
    // Cached: a plain read does not call the API again.
    expect(JSON.parse((await runCli(['blacklist', '--json'], env)).stdout)).toMatchObject({ entries: 8 });
    expect(h.sim.calls().filter((c) => c.action === 'DescribeLiveStreamsBlockList')).toHaveLength(3);

    const [forbid] = await h.status();
    expect(forbid!.blacklist).toMatchObject({ cap: 10_000, entries: 8, headroom: 9_992, permanentBans: 3 });
    const registry = new Registry();
    registerQueueGauges(registry, h.redis, [h.runtime], createLogger('silent'));
    const metrics = await registry.metrics();
    expect(metrics).toContain('livequeue_blacklist_entries{account="default"} 8');
    expect(metrics).toContain('livequeue_blacklist_headroom{account="default"} 9992');
    expect(metrics).toContain('livequeue_blacklist_permanent_bans{account="default"} 3');
    expect((await runCli(['status'], env)).stdout).toContain('BLACKLIST default: 8 of 10000 streams, room for 9992, 3 permanent');
  });

  it('skips and reports a domain the API refuses, reads the others, and forgets a recorded domain that does not exist', async () => {
    h = await startHarness('refused-domain', { LIVE_DOMAINS: 'c.example.com,gone.example.com' });
    h.sim.seedBlacklist('c.example.com', 4);
    h.sim.seedBlacklist('a.example.com', 2);
    // A typo banned once (recorded), and a configured domain the account does not have: the API's answer for both.
    const notFound = { code: 'InvalidDomain.NotFound', status: 404, message: 'The domain provided does not exist in our records.' };
    h.sim.script({ action: 'DescribeLiveStreamsBlockList', match: { DomainName: 'typo.exmaple.com' }, ...notFound });
    h.sim.script({ action: 'DescribeLiveStreamsBlockList', match: { DomainName: 'gone.example.com' }, ...notFound });
    const env = envOf(h, { LIVE_DOMAINS: 'c.example.com,gone.example.com' });
    await h.runtime.blacklist.noteDomains(['a.example.com', 'typo.exmaple.com', 'gone.example.com']);
    const reads = (domain: string) => h!.sim.calls().filter((c) => c.action === 'DescribeLiveStreamsBlockList' && c.params.DomainName === domain).length;

    const first = await runCli(['blacklist', '--refresh', '--json'], env);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      entries: 6,
      headroom: 9_994,
      domains: [{ domain: 'a.example.com', entries: 2 }, { domain: 'c.example.com', entries: 4 }],
      skipped: [
        { domain: 'gone.example.com', code: 'InvalidDomain.NotFound', message: notFound.message, forgotten: false },
        { domain: 'typo.exmaple.com', code: 'InvalidDomain.NotFound', message: notFound.message, forgotten: true },
      ],
    });
    // The recorded typo is forgotten; the configured domain stays (the configuration names it) and is reported again.
    expect((await h.redis.smembers(blacklistKeys(h.runtime.prefix).domains)).sort()).toEqual(['a.example.com', 'gone.example.com']);
    expect(await h.runtime.blacklist.domains()).toEqual(['a.example.com', 'c.example.com', 'gone.example.com']);
    // A worker's periodic read: the typo is not asked for again; the configured domain is, and each skip is logged with its code.
    let logs = '';
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    const client = new AlibabaLiveClient({ endpoint: h.endpoint, regionId: 'cn-shanghai', timeoutMs: 2000, credential: staticCredential(ACCESS_KEY_ID, ACCESS_KEY_SECRET) });
    const stop = startBlacklistRefresh(h.runtime, client, h.config.blacklistRefreshMs, createLogger('info', stream));
    try {
      await waitFor(() => logs.includes('"msg":"blacklist size read"'), 10_000, 'the periodic read');
    } finally {
      stop();
    }
    expect(logs).toMatch(/"domain":"gone\.example\.com","code":"InvalidDomain\.NotFound","forgotten":false,"msg":"blacklist of a domain not read: the API refused the domain"/);
    expect(logs).not.toContain('typo.exmaple.com');
    const second = (await h.runtime.blacklist.cached())!;
    expect(second).toMatchObject({ entries: 6, skipped: [{ domain: 'gone.example.com', code: 'InvalidDomain.NotFound', forgotten: false }] });
    expect(reads('typo.exmaple.com')).toBe(1);
    expect(reads('gone.example.com')).toBe(2);
    expect(reads('a.example.com')).toBe(2);

    // A failure that is not about one domain (here the service's) still fails the whole read, and the last figures stay: these could not be trusted.
    h.sim.script({ action: 'DescribeLiveStreamsBlockList', match: { DomainName: 'c.example.com' }, code: 'InternalError', status: 500, times: 1 });
    await expect(h.runtime.blacklist.refresh(client)).rejects.toThrow('DescribeLiveStreamsBlockList for c.example.com failed: InternalError');
    expect(await h.runtime.blacklist.cached()).toMatchObject({ entries: 6, checkedAt: second.checkedAt });
  });

  it('warns (CLI and HTTP) when a batch\'s bans exceed the headroom, and enqueues them all the same', async () => {
    h = await startHarness('preflight');
    h.sim.seedBlacklist('full.example.com', 9_997);
    const env = envOf(h, { LIVE_DOMAINS: 'full.example.com' });
    expect((await runCli(['blacklist', '--refresh'], env)).stdout).toContain('9997 of 10000 streams on the blacklist, room for 3');

    const bans = [1, 2, 3, 4, 5].map((i) => ban('full.example.com', `p${i}`));
    const oneshots = [1, 2].map((i) => ban('full.example.com', `o${i}`, { Oneshot: 'yes' }));
    const cli = await runCli(['enqueue', 'forbid', '--file', '-', '--json'], env, [...bans, ...oneshots].join('\n'));
    expect(cli.code).toBe(0);
    expect(cli.output).toMatch(/warning: 5 bans add to the blacklist but it has room for 3 .*about 2 would wait.*Oneshot=yes.*shorter ResumeTime/);
    expect(JSON.parse(cli.stdout)).toMatchObject({ enqueued: 7, blacklistWarning: { bans: 5, headroom: 3, wouldWait: 2 } });

    const quiet = await runCli(['enqueue', 'forbid', '--file', '-', '--json'], env, [1, 2, 3].map((i) => ban('full.example.com', `q${i}`, { Oneshot: 'yes' })).join('\n'));
    expect(JSON.parse(quiet.stdout).blacklistWarning).toBeUndefined();

    const server = await startTestServer(h.config);
    try {
      const answer = await server.request('/v1/forbid', { method: 'POST', json: [1, 2, 3, 4].map((i) => JSON.parse(ban('full.example.com', `h${i}`))) });
      expect(answer.status).toBe(202);
      expect(await answer.json()).toMatchObject({ enqueued: 4, blacklistWarning: { bans: 4, headroom: 3, wouldWait: 1, message: expect.stringContaining('Oneshot=yes') } });
    } finally {
      await server.close();
    }
  });
});
