import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AlibabaLiveClient, CredentialsUnavailableError, parseEndpoint, staticCredential } from '../src/live/client.ts';
import { retryAfterFromHeaders } from '../src/live/request-tracker.ts';
import { LiveApiSimulator } from '../src/sim/index.ts';

const SECRET = 'client-test-secret-5hQ2x';
let sim: LiveApiSimulator;
let client: AlibabaLiveClient;
beforeAll(async () => {
  sim = new LiveApiSimulator({ accessKeys: { 'client-ak': SECRET }, qps: { ForbidLiveStream: 2 } });
  const endpoint = await sim.start();
  client = new AlibabaLiveClient({ endpoint, regionId: 'cn-shanghai', timeoutMs: 2000, credential: staticCredential('client-ak', SECRET) });
});
afterAll(() => sim.stop());

const ban = (StreamName: string) => ({ DomainName: 'demo.aliyundoc.com', AppName: 'app', StreamName, LiveStreamType: 'publisher' as const });

describe('AlibabaLiveClient over @alicloud/openapi-core', () => {
  it('sends every parameter, signed, and returns the RequestId', async () => {
    const result = await client.call('ForbidLiveStream', { ...ban('c1'), Oneshot: 'no', ResumeTime: '2030-01-01T00:00:00Z', RegionId: 'cn-beijing' });
    expect(result).toMatchObject({ ok: true, requestId: expect.stringMatching(/^[0-9A-F-]{36}$/) });
    const call = sim.calls().at(-1)!;
    expect(call.params).toMatchObject({ DomainName: 'demo.aliyundoc.com', AppName: 'app', StreamName: 'c1', LiveStreamType: 'publisher', Oneshot: 'no', ResumeTime: '2030-01-01T00:00:00Z', RegionId: 'cn-beijing' });
    expect(call.accessKeyId).toBe('client-ak');
  });

  it('returns API errors as data: code, HTTP status, the API message and RequestId', async () => {
    const result = await client.call('StopLiveStreamMonitor', { MonitorId: '445409ec-7eaa-461d-8f29-4bec2eb9a1b2' });
    expect(result).toMatchObject({ ok: false, code: 'StreamMonitorNotExist', httpStatus: 404, network: false, requestId: expect.any(String) });
    expect((result as { message: string }).message).not.toContain('request id');
  });

  it('reads the server retry hint on a throttled answer', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const results = await Promise.all(['t1', 't2', 't3'].map((s) => client.call('ForbidLiveStream', { ...ban(s), Oneshot: 'yes' })));
    const throttled = results.find((r) => !r.ok) as { code: string; retryAfterMs?: number };
    expect(throttled.code).toBe('Throttling.User');
    expect(throttled.retryAfterMs).toBeGreaterThan(0);
    expect(throttled.retryAfterMs).toBeLessThanOrEqual(1000);
  });

  it('does not send a request whose send deadline has passed', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const before = sim.calls().length;
    const result = await client.call('ForbidLiveStream', { ...ban('late'), Oneshot: 'yes' }, { sendBy: performance.now() - 1 });
    expect(result).toEqual({ ok: false, notSent: true });
    const onTime = await client.call('ForbidLiveStream', { ...ban('on-time'), Oneshot: 'yes' }, { sendBy: performance.now() + 1000 });
    expect(onTime.ok).toBe(true);
    expect(sim.calls().slice(before).map((c) => c.params.StreamName)).toEqual(['on-time']);
  });

  it("reads a gateway's HTML error page by its status, not as a network error", async () => {
    sim.script({ action: 'StopLiveStreamMonitor', match: { MonitorId: 'html-page' }, code: 'unused', status: 502, html: true, times: 1 });
    const result = await client.call('StopLiveStreamMonitor', { MonitorId: 'html-page' });
    expect(result).toMatchObject({ ok: false, code: 'HTTP502', httpStatus: 502, network: false, bodyNotJson: true });
  });

  it('names a JSON error without a Code by its status, never "undefined"', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ Message: 'something was wrong', RequestId: 'R-1' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const bare = new AlibabaLiveClient({ endpoint: `http://127.0.0.1:${port}`, regionId: 'cn-shanghai', timeoutMs: 2000, credential: staticCredential('client-ak', SECRET) });
      const result = await bare.call('ForbidLiveStream', ban('no-code'));
      expect(result).toMatchObject({ ok: false, code: 'HTTP400', httpStatus: 400, message: 'something was wrong', network: false });
    } finally {
      server.close();
    }
  });

  it('reports credentials the chain cannot find as CredentialsUnavailable, not a network error', async () => {
    const env = { ...process.env };
    for (const name of Object.keys(process.env)) if (name.startsWith('ALIBABA_CLOUD_') && name !== 'ALIBABA_CLOUD_ECS_METADATA_DISABLED') delete process.env[name];
    process.env.HOME = '/nonexistent-livequeue-home';
    try {
      // The default chain: nothing in the environment, no profile file.
      const chain = new AlibabaLiveClient({ endpoint: 'http://127.0.0.1:1', regionId: 'cn-shanghai', timeoutMs: 1000 });
      await expect(chain.checkCredentials()).rejects.toBeInstanceOf(CredentialsUnavailableError);
      await expect(chain.checkCredentials()).rejects.toThrow(/ALIBABA_CLOUD_ACCESS_KEY_ID/);
      const result = await chain.call('ForbidLiveStream', ban('no-credentials'));
      expect(result).toMatchObject({ ok: false, code: 'CredentialsUnavailable', network: false });
    } finally {
      process.env = env;
    }
  });

  it('reports a refused connection as a network error without the secret', async () => {
    const dead = new AlibabaLiveClient({ endpoint: 'http://127.0.0.1:1', regionId: 'cn-shanghai', timeoutMs: 1000, credential: staticCredential('client-ak', SECRET) });
    const result = await dead.call('ForbidLiveStream', ban('x'));
    expect(result).toMatchObject({ ok: false, network: true, code: 'NetworkError' });
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });
});

describe('endpoint and retry-hint parsing', () => {
  it('accepts a host name (HTTPS) or a full http URL', () => {
    expect(parseEndpoint('live.aliyuncs.com')).toEqual({ protocol: 'https', host: 'live.aliyuncs.com' });
    expect(parseEndpoint('http://127.0.0.1:8787')).toEqual({ protocol: 'http', host: '127.0.0.1:8787' });
  });

  it('takes the longest of x-acs-retry-after and TimeLeft', () => {
    expect(retryAfterFromHeaders({ 'x-ratelimit-user-api': 'Limit:20,Remain:0,TimeLeft:850,Reset:1' })).toBe(850);
    expect(retryAfterFromHeaders({ 'x-acs-retry-after': '300', 'x-ratelimit-user': 'Limit:20,Remain:0,TimeLeft:120' })).toBe(300);
    expect(retryAfterFromHeaders({})).toBeUndefined();
  });
});
