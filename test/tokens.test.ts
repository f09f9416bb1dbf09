import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { requireLoopbackHost, requireToken } from '../src/http/auth.ts';
import '../src/http/context.ts';
import { errorHandler } from '../src/http/errors.ts';
import { routeScopes } from '../src/http/scopes.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { API_TOKEN, startTestServer, type TestServer } from './helpers/http.ts';
import { startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';

/**
 * Named API tokens with scopes (LIVEQUEUE_API_TOKENS_FILE), against real
 * Redis and the real server: each route needs its scope, a token without it
 * gets 403 missing-scope, and the request's actor is the token's name.
 */
const TOKENS = { reader: 'reader-token-Hq3vN8xK2pL7', ci: 'ci-token-Wm5tB9rJ4cD1xy', ops: 'ops-token-Zk7pF2nV6sQ8ab' };
const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const ENTRIES = [
  { name: 'reader', tokenSha256: sha(TOKENS.reader), scopes: ['read'] },
  { name: 'ci', tokenSha256: sha(TOKENS.ci), scopes: ['enqueue'] },
  { name: 'ops', tokenSha256: sha(TOKENS.ops), scopes: ['operate', 'read'] },
];
const ban = (StreamName: string) => ({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName });

const dir = mkdtempSync(join(tmpdir(), 'livequeue-tokens-'));
const file = (name: string, content: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};
const TOKENS_FILE = file('tokens.json', ENTRIES);

let h: Harness;
let server: TestServer;
beforeAll(async () => {
  h = await startHarness('tokens', { LIVEQUEUE_API_TOKEN: API_TOKEN, LIVEQUEUE_API_TOKENS_FILE: TOKENS_FILE, HTTP_HOST: '127.0.0.1' });
  server = await startTestServer(h.config);
});
afterAll(async () => {
  await server?.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A request with `token` as Bearer (or as the Basic password); JSON body when `json` is given. */
const call = (token: string, path: string, json?: unknown, basic = false) =>
  server.request(path, {
    auth: false,
    method: json === undefined ? 'GET' : 'POST',
    json,
    headers: { authorization: basic ? `Basic ${Buffer.from(`me:${token}`).toString('base64')}` : `Bearer ${token}` },
  });
const missingScope = (name: string, scope: string) => ({ error: 'missing-scope', message: `token "${name}" lacks the ${scope} scope this route needs` });

describe('scopes', () => {
  it('a read token can GET but not enqueue (403 naming enqueue), and enqueues nothing', async () => {
    for (const path of ['/v1/forbid', '/v1/stop-monitor', '/v1/resume-stream']) {
      const refused = await call(TOKENS.reader, path, ban('read-only'));
      expect(refused.status, path).toBe(403);
      expect(await refused.json()).toEqual(missingScope('reader', 'enqueue'));
    }
    expect(await h.producer.queue('ForbidLiveStream').count()).toBe(0);
    expect((await call(TOKENS.reader, '/v1/dlq')).status).toBe(200);
    expect((await call(TOKENS.reader, '/v1/jobs/forbid.default.0123456789abcdef0123456789abcdef')).status).toBe(404);
    expect((await call(TOKENS.reader, '/v1/batches/cancel', { all: true })).status).toBe(403);
  });

  it('an enqueue token can enqueue but not cancel or undo a batch (403 naming operate); an operate token can', async () => {
    const enqueued = await call(TOKENS.ci, '/v1/forbid', [ban('ci-1'), ban('ci-2')]);
    expect(enqueued.status).toBe(202);
    const { batch } = (await enqueued.json()) as { batch: string };
    for (const action of ['cancel', 'undo']) {
      const refused = await call(TOKENS.ci, `/v1/batches/${batch}/${action}`, {});
      expect(refused.status, action).toBe(403);
      expect(await refused.json()).toEqual(missingScope('ci', 'operate'));
    }
    expect(await (await call(TOKENS.ci, '/v1/dlq/replay', { all: true })).json()).toEqual(missingScope('ci', 'operate'));
    expect(await (await call(TOKENS.ci, `/v1/batches/${batch}`)).json()).toEqual(missingScope('ci', 'read'));
    expect(await h.producer.queue('ForbidLiveStream').count()).toBe(2);

    const cancelled = await call(TOKENS.ops, `/v1/batches/${batch}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ batch, cancelled: 2 });
    const undone = await call(TOKENS.ops, `/v1/batches/${batch}/undo`, { reason: 'wrong list' });
    expect(undone.status).toBe(200);
    // The act is the token's: its name, never the token, is the actor.
    expect((await h.runtime.batches.show(batch)).undoBy).toEqual({ actor: 'ops', reason: 'wrong list' });
    expect((await call(TOKENS.ops, '/v1/forbid', ban('ops-1'))).status).toBe(403);
  });

  it('the dashboard needs read and nothing more', async () => {
    for (const basic of [false, true]) {
      expect((await call(TOKENS.reader, '/ui/', undefined, basic)).status).toBe(200);
      expect((await call(TOKENS.reader, '/ui/jobs/api/queues', undefined, basic)).status).toBe(200);
    }
    const refused = await call(TOKENS.ci, '/ui/', undefined, true);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual(missingScope('ci', 'read'));
  });

  it('a wrong or missing token is 401, as before', async () => {
    for (const token of ['wrong-token-0123456789', `${TOKENS.reader}x`, sha(TOKENS.reader)]) {
      const response = await call(token, '/v1/dlq');
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: 'unauthorized' });
    }
    expect((await server.request('/v1/dlq', { auth: false })).status).toBe(401);
    expect((await server.request('/healthz', { auth: false })).status).toBe(200);
  });

  it('LIVEQUEUE_API_TOKEN still works, as "default" with every scope', async () => {
    const enqueued = await call(API_TOKEN, '/v1/forbid', ban('default-1'));
    expect(enqueued.status).toBe(202);
    const { batch } = (await enqueued.json()) as { batch: string };
    expect((await call(API_TOKEN, `/v1/batches/${batch}`)).status).toBe(200);
    expect((await call(API_TOKEN, `/v1/batches/${batch}/cancel`, {})).status).toBe(200);
    expect((await call(API_TOKEN, '/ui/', undefined, true)).status).toBe(200);
    expect(h.config.http.tokens.map((t) => [t.name, t.scopes])).toEqual([['default', ['enqueue', 'operate', 'read']], ...ENTRIES.map((e) => [e.name, e.scopes])]);
  });

  it('every /v1 route declares its scope: enqueue for the enqueue POSTs, read for GETs, operate for the rest', () => {
    const routes = routeScopes(server.app);
    const v1 = routes.filter((r) => r.url.startsWith('/v1'));
    expect(v1.length).toBeGreaterThan(10);
    for (const { method, url, scope } of v1) {
      const enqueue = method === 'POST' && /^\/v1(\/accounts\/:account)?\/(forbid|stop-monitor|resume-stream)$/.test(url);
      expect(scope, `${method} ${url}`).toBe(enqueue ? 'enqueue' : method === 'GET' || method === 'HEAD' ? 'read' : 'operate');
    }
    for (const { method, url, scope } of routes.filter((r) => r.url.startsWith('/ui'))) expect(scope, `${method} ${url}`).toBeDefined();
  });
});

describe('the actor', () => {
  /** The auth hooks on a route that echoes request.actor; one route declares no scope. */
  async function echo(hook: ReturnType<typeof requireToken>) {
    const app = Fastify();
    app.decorateRequest('actor', '');
    app.setErrorHandler(errorHandler(h.redis as never, 1000));
    app.addHook('onRequest', hook);
    app.get('/actor', { config: { scope: 'read' } }, async (request) => ({ actor: request.actor }));
    app.get('/undeclared', async (request) => ({ actor: request.actor }));
    return app;
  }

  it('is the name of the token the request carried', async () => {
    const app = await echo(requireToken(h.config.http.tokens));
    const get = (token: string, url = '/actor') => app.inject({ url, headers: { authorization: `Bearer ${token}` } });
    expect((await get(TOKENS.reader)).json()).toEqual({ actor: 'reader' });
    expect((await get(TOKENS.ops)).json()).toEqual({ actor: 'ops' });
    expect((await get(API_TOKEN)).json()).toEqual({ actor: 'default' });
    // A route without a declared scope needs every scope: only "default" has them all.
    expect((await get(TOKENS.ops, '/undeclared')).json()).toEqual(missingScope('ops', 'enqueue'));
    expect((await get(API_TOKEN, '/undeclared')).json()).toEqual({ actor: 'default' });
    await app.close();
  });

  it('is "loopback" on a server without tokens', async () => {
    const app = await echo(requireLoopbackHost());
    expect((await app.inject({ url: '/actor', headers: { host: '127.0.0.1:8080' } })).json()).toEqual({ actor: 'loopback' });
    await app.close();
  });
});

describe('LIVEQUEUE_API_TOKENS_FILE', () => {
  const load = (content: unknown, env: Record<string, string> = {}) => {
    const path = file(`bad-${Math.random().toString(36).slice(2)}.json`, content);
    return { path, load: () => loadConfig({ LIVEQUEUE_API_TOKENS_FILE: path, ...env }) };
  };
  const entry = (overrides: Record<string, unknown>) => ({ name: 'x', tokenSha256: sha('some-token-0123456789'), scopes: ['read'], ...overrides });

  it('is checked at start-up: a bad entry is a config error naming the file, the entry, the field and the rule, never a token or hash', () => {
    const secret = 'plain-secret-token-Qx4Lm9';
    const cases: [unknown, string][] = [
      [[...ENTRIES, entry({ scopes: ['read', 'admin'] })], 'tokens[3].scopes[1]: each scope must be one of enqueue, operate, read'],
      [[entry({ scopes: [] })], 'tokens[0].scopes: scopes must name at least one of enqueue, operate, read'],
      [[entry({ tokenSha256: secret })], 'tokens[0].tokenSha256: tokenSha256 must be 64 hex digits'],
      [[entry({ token: secret })], 'tokens[0]: unknown field "token"'],
      [[entry({ name: 'has space' })], 'tokens[0].name: name must be 1 to 64 letters, digits, _ . : @ -'],
      [[entry({ name: 'a'.repeat(65) })], 'tokens[0].name: name must be 1 to 64'],
      [[entry({}), entry({ tokenSha256: sha('other-token-0123456789') })], 'tokens[1].name: "x" is already the name of tokens[0]: names must be unique'],
      [[entry({}), entry({ name: 'y' })], 'tokens[1].tokenSha256: the same token as tokens[0] ("x")'],
      [`[{"name": "x", "tokenSha256": "${secret}"`, 'is not JSON'],
      [{ accounts: [] }, 'must be a list'],
      [[], 'the file must list at least one token'],
    ];
    for (const [content, rule] of cases) {
      const { path, load: bad } = load(content);
      expect(bad, rule).toThrow(`LIVEQUEUE_API_TOKENS_FILE ${path}: ${rule}`);
      const message = (() => { try { bad(); return ''; } catch (error) { return (error as Error).message; } })();
      expect(message).not.toContain(secret);
      expect(message).not.toMatch(/[0-9a-f]{64}/);
      expect((() => { try { bad(); } catch (error) { return (error as { code?: string }).code; } })()).toBe('config');
    }
    expect(() => loadConfig({ LIVEQUEUE_API_TOKENS_FILE: join(dir, 'missing.json') })).toThrow(/LIVEQUEUE_API_TOKENS_FILE .*missing\.json: cannot be read \(ENOENT\)/);
  });

  it('may not name a token "default" next to LIVEQUEUE_API_TOKEN, nor repeat its token', () => {
    expect(load([entry({ name: 'default' })], { LIVEQUEUE_API_TOKEN: API_TOKEN }).load).toThrow('tokens[0].name: "default" is already the name of LIVEQUEUE_API_TOKEN');
    expect(load([entry({ tokenSha256: sha(API_TOKEN) })], { LIVEQUEUE_API_TOKEN: API_TOKEN }).load).toThrow('tokens[0].tokenSha256: the same token as LIVEQUEUE_API_TOKEN ("default")');
    expect(load({ tokens: [entry({ name: 'default' })] }).load().http.tokens.map((t) => t.name)).toEqual(['default']);
  });

  it('lets the server bind beyond loopback, as LIVEQUEUE_API_TOKEN does', () => {
    expect(loadConfig({ LIVEQUEUE_API_TOKENS_FILE: TOKENS_FILE }).http.host).toBe('0.0.0.0');
    expect(loadConfig({ LIVEQUEUE_API_TOKENS_FILE: TOKENS_FILE, HTTP_HOST: '10.0.0.5' }).http.host).toBe('10.0.0.5');
    expect(() => loadConfig({ HTTP_HOST: '10.0.0.5' })).toThrow('HTTP_HOST 10.0.0.5 needs LIVEQUEUE_API_TOKEN or LIVEQUEUE_API_TOKENS_FILE');
    expect(loadConfig({}).http).toMatchObject({ host: '127.0.0.1', tokens: [] });
  });
});

describe('`livequeue serve` with LIVEQUEUE_API_TOKENS_FILE', () => {
  let serve: RunningProcess;
  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
  });

  it('refuses POST /v1/forbid to a read token with 403, and answers its GET', async () => {
    serve = startCli(['serve'], { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LOG_LEVEL: 'info', HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', LIVEQUEUE_API_TOKENS_FILE: TOKENS_FILE });
    await waitForOutput(serve, (o) => /"url":"http:\/\/127\.0\.0\.1:\d+"/.test(o));
    const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(serve.output())![1]!;
    const headers = { authorization: `Bearer ${TOKENS.reader}`, 'content-type': 'application/json' };
    const refused = await fetch(`${url}/v1/forbid`, { method: 'POST', headers, body: JSON.stringify(ban('cli-read')) });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual(missingScope('reader', 'enqueue'));
    expect((await fetch(`${url}/v1/dlq`, { headers })).status).toBe(200);
    for (const token of Object.values(TOKENS)) expect(serve.output()).not.toContain(token);
  });
});
