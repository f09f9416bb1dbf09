import { createHash, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { stringify } from 'node:querystring';
import type * as CredentialsModule from '@alicloud/credentials';
import type * as OpenApiModule from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';
import { afterEach, describe, expect, it } from 'vitest';
import { CONNECTION_DROPPED, LiveApiSimulator, type Action, type LiveApiSimulatorOptions } from '../src/sim/index.ts';

// Node's ESM loader (tsx) and vitest disagree on what a CommonJS default import is;
// require() gives the exports object in both.
const require = createRequire(import.meta.url);
const OpenApi = require('@alicloud/openapi-core') as typeof OpenApiModule.default;
const Credential = require('@alicloud/credentials') as typeof CredentialsModule.default;

const AK = 'test-access-key-id';
const SECRET = 'test-access-key-secret';
const OTHER_AK = 'other-access-key-id';
const OTHER_SECRET = 'other-access-key-secret';
const UPPER_UUID = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;
const RATE_LIMIT_HEADER = /^Limit:(\d+),Remain:(\d+),TimeLeft:(\d+),Reset:(\d+)$/;

type Client = InstanceType<typeof OpenApi.default>;
interface Success {
  statusCode: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

let sim: LiveApiSimulator | undefined;

afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function startSim(options: LiveApiSimulatorOptions = {}): Promise<{ sim: LiveApiSimulator; url: string }> {
  sim = new LiveApiSimulator({ accessKeys: { [AK]: SECRET, [OTHER_AK]: OTHER_SECRET }, ...options });
  return { sim, url: await sim.start() };
}

function client(url: string, accessKeyId = AK, accessKeySecret = SECRET): Client {
  const credential = new Credential.default(
    new Credential.Config({ type: 'access_key', accessKeyId, accessKeySecret }),
  );
  return new OpenApi.default(
    new OpenApi.$OpenApiUtil.Config({ credential, endpoint: new URL(url).host, protocol: 'http', regionId: 'cn-shanghai' }),
  );
}

function call(c: Client, action: Action, query: Record<string, string>): Promise<Success> {
  const params = new OpenApi.$OpenApiUtil.Params({
    action,
    version: '2016-11-01',
    protocol: 'HTTP',
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'json',
  });
  const request = new OpenApi.$OpenApiUtil.OpenApiRequest({ query });
  return c.callApi(params, request, new $dara.RuntimeOptions({})) as Promise<Success>;
}

function ban(c: Client, stream: string, extra: Record<string, string> = {}): Promise<Success> {
  return call(c, 'ForbidLiveStream', {
    DomainName: 'demo.example.com',
    AppName: 'live',
    StreamName: stream,
    LiveStreamType: 'publisher',
    ...extra,
  });
}

function stopMonitor(c: Client, monitorId: string): Promise<Success> {
  return call(c, 'StopLiveStreamMonitor', { MonitorId: monitorId });
}

/** Settles a call into its error, or undefined if it succeeded. */
async function failureOf(promise: Promise<unknown>): Promise<Record<string, unknown> | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error as Record<string, unknown>;
  }
}

function utcSeconds(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 19)}Z`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/**
 * A request signed by the SDK's own signing function but sent by hand, so a
 * test can alter it after signing or send it twice.
 */
function signedRaw(url: string, query: Record<string, string>, overrides: { date?: string; nonce?: string } = {}) {
  const host = new URL(url).host;
  const headers: Record<string, string> = {
    host,
    'x-acs-action': 'ForbidLiveStream',
    'x-acs-version': '2016-11-01',
    'x-acs-date': overrides.date ?? utcSeconds(Date.now()),
    'x-acs-signature-nonce': overrides.nonce ?? randomUUID(),
    'x-acs-content-sha256': createHash('sha256').update('').digest('hex'),
  };
  const signed = { method: 'POST', pathname: '/', query, headers } as unknown as Parameters<
    typeof OpenApi.OpenApiUtil.getAuthorization
  >[0];
  const authorization = OpenApi.OpenApiUtil.getAuthorization(
    signed,
    'ACS3-HMAC-SHA256',
    headers['x-acs-content-sha256']!,
    AK,
    SECRET,
  );
  return { headers: { ...headers, authorization }, query };
}

function sendRaw(url: string, query: Record<string, string>, headers: Record<string, string>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/?${stringify(query)}`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const BAN = { DomainName: 'demo.example.com', AppName: 'live', StreamName: 'raw-1', LiveStreamType: 'publisher' };

describe('ForbidLiveStream', () => {
  it('bans a stream and answers a RequestId with the quota header', async () => {
    const { sim, url } = await startSim();
    const res = await ban(client(url), 'stream-1');

    expect(res.statusCode).toBe(200);
    expect(Object.keys(res.body)).toEqual(['RequestId']);
    expect(res.body.RequestId).toMatch(UPPER_UUID);
    expect(res.headers['x-acs-request-id']).toBe(res.body.RequestId);
    expect(res.headers['x-ratelimit-user-api']).toMatch(RATE_LIMIT_HEADER);
    expect(RATE_LIMIT_HEADER.exec(res.headers['x-ratelimit-user-api']!)?.slice(1, 3)).toEqual(['20', '19']);
    expect(sim.isBlacklisted('demo.example.com', 'live', 'stream-1')).toBe(true);
    expect(sim.isBlacklisted('demo.example.com', 'live', 'stream-2')).toBe(false);
    expect(sim.blacklistSize()).toBe(1);
    const [record] = sim.calls();
    expect(record).toMatchObject({ action: 'ForbidLiveStream', accessKeyId: AK, code: 'OK', status: 200 });
    expect(record?.requestId).toBe(res.body.RequestId);
    expect(record?.params.StreamName).toBe('stream-1');
  });

  it('answers ConfigAlreadyExists when the stream is already banned', async () => {
    const { sim, url } = await startSim();
    const c = client(url);
    await ban(c, 'dup');

    const error = await failureOf(ban(c, 'dup'));
    expect(error).toBeInstanceOf(OpenApi.ClientError);
    expect(error).toMatchObject({ code: 'ConfigAlreadyExists', statusCode: 400 });
    expect(error?.data).toMatchObject({ Code: 'ConfigAlreadyExists', Message: 'Config has already exist.', HostId: 'live.aliyuncs.com' });
    expect((error?.data as Record<string, string>).RequestId).toMatch(UPPER_UUID);
    expect(sim.blacklistSize()).toBe(1);
  });

  it('only interrupts with Oneshot=yes: nothing is listed and repeats succeed', async () => {
    const { sim, url } = await startSim();
    const c = client(url);
    await ban(c, 'once', { Oneshot: 'yes' });
    await ban(c, 'once', { Oneshot: 'yes' });

    expect(sim.isBlacklisted('demo.example.com', 'live', 'once')).toBe(false);
    expect(sim.blacklistSize()).toBe(0);
  });

  it('rejects a malformed ResumeTime and lets a lapsed ban be renewed', async () => {
    const { sim, url } = await startSim();
    const c = client(url);
    for (const bad of ['2030-01-01 10:00:00', '2030-01-01T10:00:00+08:00', '2030-02-30T10:00:00Z']) {
      expect(await failureOf(ban(c, 'timed', { ResumeTime: bad }))).toMatchObject({
        code: 'InvalidResumeTime.Malformed',
        statusCode: 400,
      });
    }
    expect(sim.blacklistSize()).toBe(0);

    await ban(c, 'timed', { ResumeTime: utcSeconds(Date.now() - 60_000) });
    expect(sim.isBlacklisted('demo.example.com', 'live', 'timed')).toBe(false);
    await ban(c, 'timed', { ResumeTime: utcSeconds(Date.now() + 3_600_000) });
    expect(sim.isBlacklisted('demo.example.com', 'live', 'timed')).toBe(true);
  });

  it('validates required and enumerated parameters', async () => {
    const { sim, url } = await startSim();
    const c = client(url);
    const missing = await failureOf(
      call(c, 'ForbidLiveStream', { DomainName: 'd', StreamName: 's', LiveStreamType: 'publisher' }),
    );
    expect(missing).toMatchObject({ code: 'MissingParameter', statusCode: 400 });
    expect(String(missing?.message)).toContain('AppName');
    expect(await failureOf(ban(c, 's', { LiveStreamType: 'player' }))).toMatchObject({ code: 'InvalidParameter' });
    expect(await failureOf(ban(c, 's', { Oneshot: 'maybe' }))).toMatchObject({ code: 'InvalidParameter' });
    expect(sim.blacklistSize()).toBe(0);
  });

  it('answers QuotaExceeded.Blacklist at the cap, counting only unexpired bans', async () => {
    const { sim, url } = await startSim({ blacklistCap: 3 });
    const c = client(url);
    await ban(c, 'lapsed', { ResumeTime: utcSeconds(Date.now() - 1000) });
    for (const stream of ['a', 'b', 'c']) await ban(c, stream);

    const error = await failureOf(ban(c, 'd'));
    expect(error).toMatchObject({ code: 'QuotaExceeded.Blacklist', statusCode: 400 });
    expect(error?.data).toMatchObject({ Message: 'Exceed max blacklist count limit' });
    expect(sim.isBlacklisted('demo.example.com', 'live', 'd')).toBe(false);
    // Interrupting does not use the quota, so it works on a full list.
    await ban(c, 'd', { Oneshot: 'yes' });
    expect(sim.blacklistSize()).toBe(3);
  });
});

describe('StopLiveStreamMonitor', () => {
  it('stops a running monitor, then answers AlreadyStop, NotExist and Malformed', async () => {
    const { sim, url } = await startSim();
    const c = client(url);
    expect(sim.createMonitors(0)).toEqual([]);
    const [id] = sim.createMonitors(2);

    const res = await stopMonitor(c, id!);
    expect(res.statusCode).toBe(200);
    expect(res.body.RequestId).toMatch(UPPER_UUID);
    expect(sim.stats().monitors).toEqual({ running: 1, stopped: 1 });

    expect(await failureOf(stopMonitor(c, id!))).toMatchObject({ code: 'StreamMonitorAlreadyStop', statusCode: 400 });
    expect(await failureOf(stopMonitor(c, randomUUID()))).toMatchObject({ code: 'StreamMonitorNotExist', statusCode: 404 });
    expect(await failureOf(stopMonitor(c, 'not-a-monitor-id'))).toMatchObject({
      code: 'InvalidMonitorId.Malformed',
      statusCode: 400,
    });
    expect(await failureOf(call(c, 'StopLiveStreamMonitor', {}))).toMatchObject({ code: 'MissingParameter' });
    expect(sim.stats().monitors).toEqual({ running: 1, stopped: 1 });
  });
});

describe('authentication', () => {
  it('answers SignatureDoesNotMatch for a wrong secret and applies nothing', async () => {
    const { sim, url } = await startSim();
    const error = await failureOf(ban(client(url, AK, 'wrong-secret'), 'x'));
    expect(error).toBeInstanceOf(OpenApi.ClientError);
    expect(error).toMatchObject({ code: 'SignatureDoesNotMatch', statusCode: 400 });
    expect(sim.blacklistSize()).toBe(0);
  });

  it('answers InvalidAccessKeyId.NotFound for an unknown AccessKey', async () => {
    const { url } = await startSim();
    expect(await failureOf(ban(client(url, 'nobody', SECRET), 'x'))).toMatchObject({
      code: 'InvalidAccessKeyId.NotFound',
      statusCode: 404,
    });
  });

  it('accepts a request signed by the SDK and refuses it once altered', async () => {
    const { sim, url } = await startSim();
    const signed = signedRaw(url, BAN);
    const tampered = await sendRaw(url, { ...BAN, StreamName: 'someone-else' }, signed.headers);
    expect(tampered.status).toBe(400);
    expect(tampered.body.Code).toBe('SignatureDoesNotMatch');

    const unsignedHeader = await sendRaw(url, BAN, { ...signed.headers, 'x-acs-extra': '1' });
    expect(unsignedHeader.body.Code).toBe('SignatureDoesNotMatch');

    const unsigned = await sendRaw(url, BAN, { ...signed.headers, authorization: '' });
    expect(unsigned.body.Code).toBe('SignatureDoesNotMatch');

    const genuine = await sendRaw(url, BAN, signed.headers);
    expect(genuine.status).toBe(200);
    expect(sim.isBlacklisted('demo.example.com', 'live', 'raw-1')).toBe(true);
    expect(sim.isBlacklisted('demo.example.com', 'live', 'someone-else')).toBe(false);
  });

  it('refuses a replayed nonce and a stale timestamp', async () => {
    const { url } = await startSim();
    const signed = signedRaw(url, BAN);
    expect((await sendRaw(url, BAN, signed.headers)).status).toBe(200);
    const replay = await sendRaw(url, BAN, signed.headers);
    expect(replay.body.Code).toBe('SignatureNonceUsed');

    const stale = signedRaw(url, BAN, { date: utcSeconds(Date.now() - 20 * 60_000) });
    expect((await sendRaw(url, BAN, stale.headers)).body.Code).toBe('InvalidTimeStamp.Expired');
  });
});

describe('throttling', () => {
  it('lets exactly qps calls through a burst and throttles the rest with retry headers', async () => {
    const { sim, url } = await startSim();
    const c = client(url);
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => failureOf(ban(c, `burst-${i}`))));

    const throttled = outcomes.filter((e) => e !== undefined);
    expect(outcomes.filter((e) => e === undefined)).toHaveLength(20);
    expect(throttled).toHaveLength(10);
    for (const error of throttled) {
      expect(error).toBeInstanceOf(OpenApi.ThrottlingError);
      expect(error).toMatchObject({ code: 'Throttling.User', statusCode: 400 });
      expect(error?.data).toMatchObject({ Message: 'Request was denied due to user flow control.' });
      expect(error?.retryAfter).toBeGreaterThan(0);
      expect(error?.retryAfter).toBeLessThanOrEqual(1000);
    }
    // Throttled calls are not applied.
    expect(sim.blacklistSize()).toBe(20);
    expect(sim.maxCallsInAnyWindow('ForbidLiveStream')).toBe(30);
    expect(sim.stats().actions.ForbidLiveStream.byCode).toEqual({ OK: 20, 'Throttling.User': 10 });

    // The window rolls: once the advertised time has passed, calls go through again.
    await sleep(Math.max(...throttled.map((e) => Number(e?.retryAfter))));
    await expect(ban(c, 'after-wait')).resolves.toMatchObject({ statusCode: 200 });
  });

  it('counts in a strict rolling second and advertises when a slot frees', async () => {
    const { url } = await startSim({ qps: { ForbidLiveStream: 1 } });
    // Oneshot calls can repeat on one stream, so only the window decides.
    const INTERRUPT = { ...BAN, Oneshot: 'yes' };
    const first = Date.now();
    expect((await sendRaw(url, INTERRUPT, signedRaw(url, INTERRUPT).headers)).status).toBe(200);
    await sleep(600);
    const res = await sendRaw(url, INTERRUPT, signedRaw(url, INTERRUPT).headers);

    // Still within a second of the first call, whatever second boundary lies between.
    expect(res.status).toBe(400);
    expect(res.body.Code).toBe('Throttling.User');
    const retryAfter = Number(res.headers['x-acs-retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(400);
    const [, limit, remain, timeLeft, reset] = RATE_LIMIT_HEADER.exec(String(res.headers['x-ratelimit-user-api']))!;
    expect([limit, remain, timeLeft]).toEqual(['1', '0', String(retryAfter)]);
    expect(Number(reset)).toBeGreaterThanOrEqual(first + 1000 - 20);
    expect(Number(reset)).toBeLessThanOrEqual(Date.now() + retryAfter + 20);

    await sleep(retryAfter);
    expect((await sendRaw(url, INTERRUPT, signedRaw(url, INTERRUPT).headers)).status).toBe(200);
  });

  it('keeps separate quotas per AccessKey and per action', async () => {
    const { sim, url } = await startSim({ qps: { ForbidLiveStream: 3, StopLiveStreamMonitor: 2 } });
    const mine = client(url);
    const theirs = client(url, OTHER_AK, OTHER_SECRET);
    const ids = sim.createMonitors(2);
    const outcomes = await Promise.all([
      ...['a', 'b', 'c'].map((s) => failureOf(ban(mine, `mine-${s}`))),
      ...['a', 'b', 'c'].map((s) => failureOf(ban(theirs, `theirs-${s}`))),
      ...ids.map((id) => failureOf(stopMonitor(mine, id))),
    ]);
    expect(outcomes.every((e) => e === undefined)).toBe(true);
    expect((await failureOf(ban(theirs, 'one-too-many')))?.code).toBe('Throttling.User');
    expect(sim.maxCallsInAnyWindow('ForbidLiveStream', 1000, OTHER_AK)).toBe(4);
    expect(sim.maxCallsInAnyWindow('ForbidLiveStream', 1000, AK)).toBe(3);
  });

  it('counts a call at arrival, before its latency', async () => {
    const { url } = await startSim({ qps: { ForbidLiveStream: 1 }, latencyMs: { min: 300, max: 300 } });
    const c = client(url);
    const started = performance.now();
    const timed = (stream: string) =>
      failureOf(ban(c, stream)).then((error) => ({ error, ms: performance.now() - started }));
    const outcomes = await Promise.all([timed('one'), timed('two')]);

    const accepted = outcomes.filter((o) => o.error === undefined);
    const throttled = outcomes.filter((o) => o.error?.code === 'Throttling.User');
    expect(accepted).toHaveLength(1);
    expect(throttled).toHaveLength(1);
    expect(accepted[0]!.ms).toBeGreaterThanOrEqual(295);
    // Refused by flow control at once, while the accepted call was still in its latency.
    expect(throttled[0]!.ms).toBeLessThan(accepted[0]!.ms - 100);
  });
});

describe('maxCallsInAnyWindow', () => {
  it('is the largest number of arrivals within any window', async () => {
    const { sim, url } = await startSim();
    const c = client(url);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((s) => ban(c, s)));
    await sleep(1100);
    await Promise.all(['f', 'g', 'h'].map((s) => ban(c, s)));

    expect(sim.maxCallsInAnyWindow('ForbidLiveStream')).toBe(5);
    expect(sim.maxCallsInAnyWindow('ForbidLiveStream', 5000)).toBe(8);
    expect(sim.maxCallsInAnyWindow('ForbidLiveStream', 1000, OTHER_AK)).toBe(0);
    expect(sim.maxCallsInAnyWindow('StopLiveStreamMonitor')).toBe(0);
  });
});

describe('faults', () => {
  it('answers InternalError at internalErrorRate=1 without applying the ban', async () => {
    const { sim, url } = await startSim({ faults: { internalErrorRate: 1 } });
    const c = client(url);
    const error = await failureOf(ban(c, 'x'));
    expect(error).toBeInstanceOf(OpenApi.ServerError);
    expect(error).toMatchObject({ code: 'InternalError', statusCode: 500 });
    expect(error?.data).toMatchObject({
      Message: 'The request processing has failed due to backend service exception.',
    });
    expect(sim.blacklistSize()).toBe(0);

    sim.setFaults({ internalErrorRate: 0 });
    await ban(c, 'x');
    expect(sim.isBlacklisted('demo.example.com', 'live', 'x')).toBe(true);
  });

  it('answers ServiceUnavailable and fails everything during an outage', async () => {
    const { sim, url } = await startSim({ faults: { serviceUnavailableRate: 1 } });
    const c = client(url);
    expect(await failureOf(ban(c, 'x'))).toMatchObject({ code: 'ServiceUnavailable', statusCode: 503 });

    sim.setFaults({ serviceUnavailableRate: 0, outage: { durationMs: 60_000 } });
    expect(await failureOf(ban(c, 'x'))).toMatchObject({ code: 'InternalError', statusCode: 500 });
    expect(sim.stats().faults.outageUntilMs).toBeGreaterThan(Date.now());

    sim.setFaults({ outage: null });
    await ban(c, 'x');
    expect(sim.blacklistSize()).toBe(1);
  });

  it('drops the connection after applying the effect when dropAfterEffectRate=1', async () => {
    const { sim, url } = await startSim({ faults: { dropAfterEffectRate: 1 } });
    const error = await failureOf(ban(client(url), 'lost-answer'));

    expect(error).toBeDefined();
    expect(error).not.toBeInstanceOf(OpenApi.AlibabaCloudError);
    expect(error?.code).toBe('ECONNRESET');
    expect(sim.isBlacklisted('demo.example.com', 'live', 'lost-answer')).toBe(true);
    expect(sim.calls()[0]).toMatchObject({ code: 'OK', status: 200, responseLost: true });
  });

  it('drops the connection without applying the effect when dropConnectionRate=1', async () => {
    const { sim, url } = await startSim({ faults: { dropConnectionRate: 1 } });
    const error = await failureOf(ban(client(url), 'never'));

    expect(error?.code).toBe('ECONNRESET');
    expect(sim.isBlacklisted('demo.example.com', 'live', 'never')).toBe(false);
    expect(sim.calls()[0]).toMatchObject({ code: CONNECTION_DROPPED, status: 0, responseLost: true });
  });

  it('answers a scripted code for matching calls, the given number of times', async () => {
    const { sim, url } = await startSim();
    const c = client(url);
    const [target, other] = sim.createMonitors(2);
    sim.script({ action: 'StopLiveStreamMonitor', match: { MonitorId: target! }, code: 'IllegalOperation', status: 401, times: 1 });

    expect(await failureOf(stopMonitor(c, target!))).toMatchObject({ code: 'IllegalOperation', statusCode: 401 });
    expect(sim.stats().monitors.running).toBe(2);
    await stopMonitor(c, other!);
    // Used up: the next call for the target reaches the monitor.
    await stopMonitor(c, target!);
    expect(sim.stats().monitors).toEqual({ running: 0, stopped: 2 });

    sim.script({ action: 'ForbidLiveStream', code: 'Throttling.User', status: 400, retryAfterMs: 250 });
    const throttled = await failureOf(ban(c, 'x'));
    expect(throttled).toBeInstanceOf(OpenApi.ThrottlingError);
    expect(throttled).toMatchObject({ code: 'Throttling.User', retryAfter: 250 });
    expect(sim.blacklistSize()).toBe(0);
  });
});

describe('control API', () => {
  async function control(url: string, method: string, path: string, body?: unknown) {
    const res = await fetch(`${url}/__sim/${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  it('creates monitors, sets faults and rules, reports stats and calls, and resets', async () => {
    const { url } = await startSim();
    const c = client(url);
    const created = await control(url, 'POST', 'monitors', { count: 2 });
    expect(created.status).toBe(200);
    const ids: string[] = created.body.monitorIds;
    expect(ids).toHaveLength(2);
    await stopMonitor(c, ids[0]!);

    expect((await control(url, 'POST', 'faults', { internalErrorRate: 1 })).body.faults.internalErrorRate).toBe(1);
    expect((await failureOf(ban(c, 'x')))?.code).toBe('InternalError');
    await control(url, 'POST', 'faults', { internalErrorRate: 0 });

    const rule = { action: 'ForbidLiveStream', match: { StreamName: 'y' }, code: 'UserQuotaExceed', status: 403 };
    expect((await control(url, 'POST', 'rules', rule)).body.rules).toBe(1);
    expect(await failureOf(ban(c, 'y'))).toMatchObject({ code: 'UserQuotaExceed', statusCode: 403 });
    await ban(c, 'z');

    const stats = (await control(url, 'GET', 'stats')).body;
    expect(stats.monitors).toEqual({ running: 1, stopped: 1 });
    expect(stats.blacklist).toEqual({ size: 1, cap: 10_000 });
    expect(stats.actions.ForbidLiveStream).toMatchObject({
      calls: 3,
      byCode: { InternalError: 1, UserQuotaExceed: 1, OK: 1 },
      maxCallsInAnyWindow: 3,
    });
    expect(stats.actions.StopLiveStreamMonitor).toMatchObject({ calls: 1, byCode: { OK: 1 } });

    const all = (await control(url, 'GET', 'calls')).body.calls as { at: number; code: string }[];
    expect(all.map((r) => r.code)).toEqual(['OK', 'InternalError', 'UserQuotaExceed', 'OK']);
    const later = (await control(url, 'GET', `calls?since=${all[1]!.at}`)).body.calls as { code: string }[];
    expect(later.map((r) => r.code)).toEqual(['UserQuotaExceed', 'OK']);

    expect((await control(url, 'POST', 'reset')).status).toBe(200);
    const cleared = (await control(url, 'GET', 'stats')).body;
    expect(cleared.blacklist.size).toBe(0);
    expect(cleared.monitors).toEqual({ running: 0, stopped: 0 });
    expect(cleared.rules).toBe(0);
    expect(cleared.actions.ForbidLiveStream.calls).toBe(0);
    expect((await control(url, 'GET', 'calls')).body.calls).toEqual([]);
  });

  it('rejects invalid bodies and unknown routes', async () => {
    const { url } = await startSim();
    expect((await control(url, 'POST', 'faults', { internalErrorRate: 2 })).status).toBe(400);
    expect((await control(url, 'POST', 'monitors', { count: 1.5 })).status).toBe(400);
    expect((await control(url, 'POST', 'rules', { action: 'Nope', code: 'X', status: 400 })).status).toBe(400);
    expect((await control(url, 'GET', 'nothing-here')).status).toBe(404);
  });
});

describe('options', () => {
  it('rejects invalid options', () => {
    expect(() => new LiveApiSimulator({ qps: { ForbidLiveStream: 0 } })).toThrow();
    expect(() => new LiveApiSimulator({ latencyMs: { min: 50, max: 10 } })).toThrow();
    expect(() => new LiveApiSimulator({ accessKeys: {} })).toThrow();
    expect(() => new LiveApiSimulator({ faults: { dropConnectionRate: -0.1 } })).toThrow();
  });

  it('keeps only the most recent callLogLimit calls', async () => {
    const { sim, url } = await startSim({ callLogLimit: 3 });
    const c = client(url);
    for (const s of ['a', 'b', 'c', 'd', 'e']) await ban(c, s);
    expect(sim.calls().map((r) => r.params.StreamName)).toEqual(['c', 'd', 'e']);
    expect(sim.stats().actions.ForbidLiveStream.calls).toBe(5);
  });
});
