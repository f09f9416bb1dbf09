import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JOBS_PER_REQUEST } from '../src/http/routes/enqueue.ts';
import { REQUEST_TIMEOUT_MS } from '../src/http/server.ts';
import { startCli, waitForOutput } from './helpers/processes.ts';
import { createLogger } from '../src/log.ts';
import { FAST_RETRIES, startHarness, type Harness } from './helpers/harness.ts';
import { API_TOKEN, HTTP_ENV, startTestServer, type TestServer } from './helpers/http.ts';
import { parseMetrics, valueOf } from './helpers/prometheus.ts';
import { deleteKeys, REDIS_URL, testConfig, uniquePrefix } from './helpers/redis.ts';

/**
 * The HTTP API in-process against real Redis and the simulator: auth,
 * field-level 400s, and a job's way from POST to its outcome.
 */
const BODY_LIMIT = 200_000;
const ban = (StreamName: string, extra: Record<string, unknown> = {}) => ({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName, ...extra });

let h: Harness;
let server: TestServer;
let logs = '';
beforeAll(async () => {
  h = await startHarness('http', { ...FAST_RETRIES, ...HTTP_ENV, HTTP_BODY_LIMIT_BYTES: String(BODY_LIMIT) });
  // Every request logged at the most verbose level, to check that the token never reaches a log line.
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  server = await startTestServer(h.config, { log: createLogger('trace', logStream) });
});
afterAll(async () => {
  await server?.close();
  await h?.close();
});

async function json(response: Response): Promise<any> {
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return response.json();
}

describe('auth', () => {
  it('refuses every API route and the dashboard without the token, and enqueues nothing', async () => {
    const refused = [
      server.request('/v1/forbid', { method: 'POST', json: ban('no-auth'), auth: false }),
      server.request('/v1/stop-monitor', { method: 'POST', json: { MonitorId: randomUUID() }, auth: false }),
      server.request('/v1/jobs/forbid.default.abc', { auth: false }),
      server.request('/v1/dlq', { auth: false }),
      server.request('/v1/dlq/replay', { method: 'POST', json: { all: true }, auth: false }),
      server.request('/ui/', { auth: false }),
      server.request('/ui/jobs/api/queues', { auth: false }),
      server.request('/v1/dlq', { auth: false, headers: { authorization: 'Bearer wrong-token-0123456789' } }),
      server.request('/v1/dlq', { auth: false, headers: { authorization: API_TOKEN } }),
    ];
    for (const response of await Promise.all(refused)) {
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('Bearer realm="livequeue"');
      expect(response.headers.get('www-authenticate')).toContain('Basic realm="livequeue"');
      const body = await response.text();
      expect(JSON.parse(body)).toMatchObject({ error: 'unauthorized' });
      expect(body).not.toContain(API_TOKEN);
    }
    expect(await h.producer.queue('ForbidLiveStream').count()).toBe(0);
    expect(await h.producer.queue('StopLiveStreamMonitor').count()).toBe(0);
  });

  it('accepts the token as Bearer, or as the Basic-auth password a browser sends', async () => {
    expect((await server.request('/v1/dlq')).status).toBe(200);
    const basic = Buffer.from(`anyone:${API_TOKEN}`).toString('base64');
    expect((await server.request('/v1/dlq', { auth: false, headers: { authorization: `Basic ${basic}` } })).status).toBe(200);
    const wrongBasic = Buffer.from(`anyone:not-the-token-at-all`).toString('base64');
    expect((await server.request('/v1/dlq', { auth: false, headers: { authorization: `Basic ${wrongBasic}` } })).status).toBe(401);
  });

  it('refuses every near miss of the token, as Bearer and as Basic: the whole token is compared, not a prefix', async () => {
    const last = API_TOKEN.at(-1)!;
    const nearMisses = {
      'last character changed': `${API_TOKEN.slice(0, -1)}${last === 'x' ? 'y' : 'x'}`,
      'first character changed': `${API_TOKEN[0] === 'x' ? 'y' : 'x'}${API_TOKEN.slice(1)}`,
      'a prefix (all but the last character)': API_TOKEN.slice(0, -1),
      'a prefix (its first 8 characters)': API_TOKEN.slice(0, 8),
      'the token plus one character': `${API_TOKEN}x`,
      'the token plus more characters': `${API_TOKEN}-and-more`,
    };
    const basic = (token: string) => `Basic ${Buffer.from(`anyone:${token}`).toString('base64')}`;
    for (const [name, token] of Object.entries(nearMisses)) {
      expect(token).not.toBe(API_TOKEN);
      for (const authorization of [`Bearer ${token}`, basic(token)]) {
        const response = await server.request('/v1/dlq', { auth: false, headers: { authorization } });
        expect(response.status, `${name}, ${authorization.split(' ')[0]}`).toBe(401);
      }
    }
    // The real token, both ways: the same request succeeds.
    for (const authorization of [`Bearer ${API_TOKEN}`, basic(API_TOKEN)]) {
      expect((await server.request('/v1/dlq', { auth: false, headers: { authorization } })).status).toBe(200);
    }
  });

  it('leaves /healthz and /metrics open', async () => {
    expect((await server.request('/healthz', { auth: false })).status).toBe(200);
    const metrics = await server.request('/metrics', { auth: false });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
  });
});

describe('field-level 400s', () => {
  it('enqueues the valid jobs of an array and reports each invalid one by index and field', async () => {
    const response = await server.request('/v1/forbid', {
      method: 'POST',
      json: [ban('valid-1'), ban('bad-time', { ResumeTime: '2030-01-01 00:00' }), ban('bad-priority', { priority: 'asap' }), 'not a job', ban('valid-2', { Color: 'red' })],
    });
    expect(response.status).toBe(400);
    const body = await json(response);
    expect(body).toMatchObject({ error: 'invalid-jobs', enqueued: 1, duplicates: 0, invalid: 4 });
    expect(body.results).toEqual([
      { index: 0, status: 'enqueued', jobId: expect.stringMatching(/^forbid\.default\.[0-9a-f]{32}$/) },
      { index: 1, status: 'invalid', errors: [{ field: 'ResumeTime', message: 'ResumeTime must be yyyy-MM-ddTHH:mm:ssZ in UTC' }] },
      { index: 2, status: 'invalid', errors: [{ field: 'priority', message: 'priority must be "urgent" or "normal"' }] },
      { index: 3, status: 'invalid', errors: [{ field: '(record)', message: 'a record must be an object of API parameters' }] },
      { index: 4, status: 'invalid', errors: [{ field: 'Color', message: 'unknown field(s) Color' }] },
    ]);
    // The valid one really is in the queue, and only it.
    const job = await h.producer.queue('ForbidLiveStream').getJob(body.results[0].jobId);
    expect(job?.data).toMatchObject(ban('valid-1'));
    expect(await h.producer.queue('ForbidLiveStream').count()).toBe(1);
  });

  it('rejects a malformed request as a whole, naming the field', async () => {
    const cases: [Promise<Response>, number, { field: string; message: RegExp }[] | undefined][] = [
      [server.request('/v1/forbid', { method: 'POST', json: [] }), 400, [{ field: 'jobs', message: /at least one job/ }]],
      [server.request('/v1/stop-monitor', { method: 'POST', json: Array.from({ length: MAX_JOBS_PER_REQUEST + 1 }, () => ({ MonitorId: randomUUID() })) }), 400, [{ field: 'jobs', message: /at most 1000 jobs/ }]],
      [server.request('/v1/jobs/not-a-job-id'), 400, [{ field: 'id', message: /must be a job id/ }]],
      [server.request('/v1/dlq?limit=abc'), 400, [{ field: 'limit', message: /number/ }]],
      [server.request('/v1/dlq?operation=ban'), 400, [{ field: 'operation', message: /forbid, stop-monitor/ }]],
      [server.request('/v1/dlq/replay', { method: 'POST', json: {} }), 400, [{ field: '(body)', message: /send "all": true/ }]],
      [server.request('/v1/dlq/replay', { method: 'POST', json: { ids: [] } }), 400, [{ field: 'ids', message: /at least one/ }]],
      [server.request('/v1/dlq/replay', { method: 'POST', json: { all: true, everything: 1 } }), 400, [{ field: 'everything', message: /everything/ }]],
      [server.request('/v1/forbid', { method: 'POST', body: '{"DomainName":', headers: { 'content-type': 'application/json' } }), 400, undefined],
      [server.request('/v1/forbid', { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } }), 415, undefined],
      [server.request('/v1/forbid', { method: 'POST', json: ban('x'.repeat(BODY_LIMIT)) }), 413, undefined],
      [server.request('/v1/nothing-here'), 404, undefined],
    ];
    for (const [pending, status, errors] of cases) {
      const response = await pending;
      const body = await json(response);
      expect({ status: response.status, body }).toMatchObject({ status, body: { error: expect.any(String), message: expect.any(String) } });
      if (errors) expect(body.errors).toEqual(errors.map((e) => ({ field: e.field, message: expect.stringMatching(e.message) })));
    }
    expect(await h.producer.queue('StopLiveStreamMonitor').count()).toBe(0);
  });
});

describe('enqueue -> job state -> outcome', () => {
  it('follows jobs from POST to applied, already applied and dead-lettered, and replays from the dead-letter queue', async () => {
    await h.producer.queue('ForbidLiveStream').obliterate({ force: true });
    const [monitor] = h.sim.createMonitors(1);
    const missingMonitor = randomUUID();

    const bans = await server.request('/v1/forbid', { method: 'POST', json: [ban('e2e-normal'), ban('e2e-urgent', { priority: 'urgent' })] });
    expect(bans.status).toBe(202);
    const banBody = await json(bans);
    expect(banBody).toMatchObject({ enqueued: 2, duplicates: 0, invalid: 0 });
    expect(banBody).not.toHaveProperty('error');
    const [normalId, urgentId] = banBody.results.map((r: { jobId: string }) => r.jobId);

    // One object (not an array) is one job.
    const stop = await json(await server.request('/v1/stop-monitor', { method: 'POST', json: { MonitorId: monitor } }));
    const missing = await json(await server.request('/v1/stop-monitor', { method: 'POST', json: { MonitorId: missingMonitor } }));
    const stopId = stop.results[0].jobId;
    const missingId = missing.results[0].jobId;
    expect(missingId).toBe(`stop-monitor.default.${missingMonitor}`);

    // Pending: the same stream again is a duplicate of the pending job.
    const again = await json(await server.request('/v1/forbid', { method: 'POST', json: ban('e2e-normal') }));
    expect(again.results).toEqual([{ index: 0, status: 'duplicate', jobId: normalId }]);

    // Before any worker runs: queued, with priority; no worker seen.
    expect(await json(await server.request(`/v1/jobs/${normalId}`))).toMatchObject({ id: normalId, operation: 'ForbidLiveStream', state: 'prioritized', priority: 'normal', attemptsMade: 0 });
    expect(await json(await server.request(`/v1/jobs/${urgentId}`))).toMatchObject({ state: 'waiting', priority: 'urgent' });
    expect(await json(await server.request('/healthz'))).toEqual({ status: 'degraded', redis: 'up', workers: { ForbidLiveStream: 0, StopLiveStreamMonitor: 0, ResumeLiveStream: 0 } });

    const workers = h.startWorkers();
    await workers.waitUntilReady();
    const health = await json(await server.request('/healthz', { auth: false }));
    expect(health.status).toBe('ok');
    expect(health.workers.ForbidLiveStream).toBeGreaterThanOrEqual(1);
    expect(health.workers.StopLiveStreamMonitor).toBeGreaterThanOrEqual(1);
    await h.drained(4);

    const applied = await json(await server.request(`/v1/jobs/${normalId}`));
    expect(applied).toMatchObject({ id: normalId, operation: 'ForbidLiveStream', state: 'applied', attemptsMade: 1, requestId: expect.any(String), finishedAt: expect.any(Number) });
    expect(await json(await server.request(`/v1/jobs/${stopId}`))).toMatchObject({ state: 'applied', operation: 'StopLiveStreamMonitor' });
    const dead = await json(await server.request(`/v1/jobs/${missingId}`));
    expect(dead).toMatchObject({ state: 'dead-lettered', code: 'StreamMonitorNotExist', deadLetter: { id: missingId, reason: 'terminal', params: { MonitorId: missingMonitor } } });

    // A finished job has left its queue: the same stream can be banned again, and the API says it already is.
    const rebanId = (await json(await server.request('/v1/forbid', { method: 'POST', json: ban('e2e-normal') }))).results[0].jobId;
    expect(rebanId).toBe(normalId);
    await h.drained(5);
    expect(await json(await server.request(`/v1/jobs/${normalId}`))).toMatchObject({ state: 'already-applied', code: 'ConfigAlreadyExists' });
    await workers.close();
    h.workers = undefined;

    // The dead-letter queue, filtered, and a replay that puts the job back in its queue.
    const dlq = await json(await server.request('/v1/dlq?operation=stop-monitor'));
    expect(dlq).toMatchObject({ total: 1, entries: [{ id: missingId, code: 'StreamMonitorNotExist', operation: 'StopLiveStreamMonitor' }] });
    expect(await json(await server.request('/v1/dlq?operation=forbid'))).toEqual({ total: 0, entries: [], malformed: [] });
    expect(await json(await server.request('/v1/dlq?code=InternalError'))).toEqual({ total: 0, entries: [], malformed: [] });
    const replay = await server.request('/v1/dlq/replay', { method: 'POST', json: { ids: [missingId] } });
    expect(replay.status).toBe(200);
    expect(await json(replay)).toMatchObject({ replayed: 1 });
    expect(await json(await server.request('/v1/jobs/' + missingId))).toMatchObject({ state: 'prioritized', attemptsMade: 0 });
    expect(await json(await server.request('/v1/dlq'))).toEqual({ total: 0, entries: [], malformed: [] });

    expect(await server.request('/v1/jobs/forbid.default.0123456789abcdef0123456789abcdef').then((r) => r.status)).toBe(404);
  });
});

describe('cross-site requests', () => {
  const names = (response: { json(): Promise<unknown> }) => response.json().then((b) => (b as { error: string }).error);

  it('a state-changing request must be JSON: a body-less POST, a form, text or a beacon gets 415 and changes nothing', async () => {
    const enqueued = await server.request('/v1/forbid', { method: 'POST', json: { batch: 'csrf-json', jobs: [ban('csrf-1'), ban('csrf-2')] } });
    expect(enqueued.status).toBe(202);
    const attempts: [string, RequestInit][] = [
      ['/v1/batches/csrf-json/cancel', { method: 'POST' }],
      ['/v1/batches/csrf-json/undo', { method: 'POST' }],
      ['/v1/batches/csrf-json/cancel', { method: 'POST', body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
      ['/v1/batches/csrf-json/undo', { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' } }],
      ['/v1/batches/cancel', { method: 'POST', body: '--b\r\ncontent-disposition: form-data; name="all"\r\n\r\ntrue\r\n--b--', headers: { 'content-type': 'multipart/form-data; boundary=b' } }],
      ['/v1/forbid', { method: 'POST', body: JSON.stringify(ban('csrf-3')), headers: { 'content-type': 'text/plain;charset=UTF-8' } }],
      ['/v1/dlq/replay', { method: 'POST', body: '{"all":true}', headers: { 'content-type': 'application/jsonx' } }],
      // The dashboard's routes are PUTs.
      ['/ui/jobs/api/queues/pause', { method: 'PUT' }],
    ];
    for (const [path, init] of attempts) {
      const response = await server.request(path, init);
      expect(response.status, `${init.method} ${path} ${JSON.stringify(init.headers ?? {})}`).toBe(415);
      const body = await json(response);
      expect(body).toEqual({ error: 'json-required', message: expect.stringContaining('content-type: application/json') });
      expect(body.message).toContain('send {} when the route takes no body');
    }
    expect(await json(await server.request('/v1/batches/csrf-json'))).toMatchObject({ jobs: 2, waiting: 2, cancelled: 0 });
    // The same routes as our clients call them: JSON, {} when there is nothing to say (charset allowed).
    const cancel = await server.request('/v1/batches/csrf-json/cancel', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(cancel.status).toBe(200);
    expect(await json(cancel)).toMatchObject({ cancelled: 2 });
  });

  it('a state-changing request from another origin\'s page gets 403; the server\'s own origin, or none, is answered', async () => {
    const own = new URL(server.url);
    // The scheme is not compared: behind a TLS proxy the page is https and the server plain http.
    const foreign = ['http://evil.example', `http://evil.example:${own.port}`, `http://${own.hostname}:${Number(own.port) + 1}`, `http://localhost.evil.example:${own.port}`, 'null', 'not a url', `file://${own.host}`];
    for (const origin of foreign) {
      const response = await server.request('/v1/batches/csrf-origin/cancel', { method: 'POST', json: {}, headers: { origin } });
      expect(response.status, origin).toBe(403);
      expect(await names(response)).toBe('cross-origin');
      const enqueue = await server.request('/v1/forbid', { method: 'POST', json: ban('csrf-origin'), headers: { origin } });
      expect(enqueue.status, origin).toBe(403);
    }
    expect(await h.producer.queue('ForbidLiveStream').getJob((await json(await server.request('/v1/forbid', { method: 'POST', json: ban('csrf-origin') }))).results[0].jobId)).toBeDefined();
    // The dashboard's own page (same origin), with the default port written out or not.
    expect((await server.request('/v1/batches/nope/cancel', { method: 'POST', json: {}, headers: { origin: own.origin } })).status).toBe(404);
    const proxied = await server.app.inject({ method: 'POST', url: '/v1/batches/nope/undo', payload: {}, headers: { authorization: `Bearer ${API_TOKEN}`, host: 'queue.example.com:443', origin: 'https://queue.example.com' } });
    expect(proxied.statusCode).toBe(404);
    // A reading request is not refused for its origin.
    expect((await server.request('/v1/dlq', { headers: { origin: 'http://evil.example' } })).status).toBe(200);
    await h.producer.queue('ForbidLiveStream').obliterate({ force: true });
  });

  it('without a token (loopback only), a body-less POST from a page is refused as well', async () => {
    const config = testConfig(uniquePrefix('http-csrf-open'), { HTTP_HOST: '127.0.0.1' });
    const open = await startTestServer(config);
    try {
      const enqueued = await open.request('/v1/forbid', { method: 'POST', auth: false, json: { batch: 'open', jobs: [ban('open-1')] } });
      expect(enqueued.status).toBe(202);
      // What a page on another site can make the browser send to 127.0.0.1: a simple request, a form.
      expect((await open.request('/v1/batches/open/cancel', { method: 'POST', auth: false })).status).toBe(415);
      expect((await open.request('/v1/batches/open/undo', { method: 'POST', auth: false, body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' } })).status).toBe(403);
      expect((await open.request('/v1/batches/open/undo', { method: 'POST', auth: false, json: {}, headers: { origin: 'http://evil.example' } })).status).toBe(403);
      expect(await (await open.request('/v1/batches/open', { auth: false })).json()).toMatchObject({ waiting: 1, cancelled: 0 });
      expect((await open.request('/v1/batches/open/cancel', { method: 'POST', auth: false, json: {} })).status).toBe(200);
    } finally {
      await open.close();
      await deleteKeys(h.redis, config.prefix);
    }
  });
});

describe('without Redis', () => {
  it('answers 503 on /healthz and the API, and livequeue_redis_up 0 on /metrics', async () => {
    const down = await startTestServer(testConfig(uniquePrefix('http-down'), HTTP_ENV), { redisUrl: 'redis://127.0.0.1:1' });
    try {
      const health = await down.request('/healthz', { auth: false });
      expect(health.status).toBe(503);
      expect(await json(health)).toEqual({ status: 'unavailable', redis: 'down' });
      const enqueue = await down.request('/v1/forbid', { method: 'POST', json: ban('no-redis') });
      expect(enqueue.status).toBe(503);
      expect(await json(enqueue)).toMatchObject({ error: 'redis-unavailable' });
      const metrics = parseMetrics(await (await down.request('/metrics', { auth: false })).text());
      expect(valueOf(metrics, 'livequeue_redis_up')).toBe(0);
      expect(valueOf(metrics, 'livequeue_queue_jobs', { operation: 'ForbidLiveStream', state: 'waiting' })).toBeUndefined();
    } finally {
      await down.close();
    }
  });
});

describe('the dashboard', () => {
  const auth = { authorization: `Bearer ${API_TOKEN}` };

  it('is read-only: no pause, add, clean, obliterate or rate-limit release behind the product\'s back', async () => {
    const before = await h.producer.queue('ForbidLiveStream').count();
    const attempts = [
      { method: 'PUT', url: '/ui/jobs/api/queues/forbid/pause' },
      { method: 'POST', url: '/ui/jobs/api/queues/forbid/add', payload: { name: 'x', data: { StreamName: 'spoofed' }, options: { jobId: 'forbid.default.spoofed' } } },
      { method: 'PUT', url: '/ui/jobs/api/queues/forbid/clean/waiting' },
      { method: 'PUT', url: '/ui/jobs/api/queues/forbid/empty' },
      { method: 'PUT', url: '/ui/jobs/api/queues/forbid/obliterate' },
      { method: 'PUT', url: '/ui/jobs/api/queues/forbid/rate-limit/release' },
      { method: 'PUT', url: '/ui/jobs/api/queues/dead-letter/retry/failed' },
    ] as const;
    for (const attempt of attempts) {
      const answer = await server.app.inject({ ...attempt, headers: auth });
      expect(answer.statusCode, `${attempt.method} ${attempt.url}`).toBeGreaterThanOrEqual(400);
    }
    // "Pause all" answers 200 and skips read-only queues: none may end up paused.
    await server.app.inject({ method: 'PUT', url: '/ui/jobs/api/queues/pause', headers: auth });
    for (const operation of ['ForbidLiveStream', 'StopLiveStreamMonitor', 'ResumeLiveStream'] as const) expect(await h.producer.queue(operation).isPaused()).toBe(false);
    expect(await h.producer.queue('ForbidLiveStream').getJob('forbid.default.spoofed')).toBeUndefined();
    expect(await h.producer.queue('ForbidLiveStream').count()).toBe(before);
  });

  it('cannot be framed, loads nothing from other origins, and asks no CDN for fonts', async () => {
    // The status page at /ui/, bull-board's job list at /ui/jobs/.
    for (const [url, marker] of [['/ui/', 'status.js'], ['/ui/jobs/', '<div id="root">']] as const) {
      const page = await server.app.inject({ method: 'GET', url, headers: auth });
      expect(page.statusCode, url).toBe(200);
      expect(page.headers['x-frame-options']).toBe('DENY');
      expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(page.headers['content-security-policy']).toContain("default-src 'self'");
      expect(page.body).toContain(marker);
      expect(page.body).not.toMatch(/https?:\/\//);
    }
  });
});

describe('slow clients', () => {
  /** Sends headers and one byte of a 1000-byte body, then nothing; resolves with what the server said when it closed. */
  function partialRequest(url: string): Promise<string> {
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.write(`POST /v1/forbid HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${API_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', () => {});
    return new Promise((resolve) => socket.on('close', () => resolve(answer)));
  }

  it('cuts off a client that sends part of its request and stalls', async () => {
    const started = Date.now();
    const answer = await partialRequest(server.url);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    // Cut at the request timeout, checked every second (Node's default bound is 5 minutes, checked every 30 s).
    expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS + 3000);
  });

  it('`livequeue serve` stops within SHUTDOWN_TIMEOUT_MS however long a client stalls', async () => {
    const prefix = uniquePrefix('serve-stall');
    const serve = startCli(['serve'], { REDIS_URL, QUEUE_PREFIX: prefix, HTTP_PORT: '0', LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: '1000' });
    try {
      await waitForOutput(serve, (o) => /"url":"http:\/\/127\.0\.0\.1:\d+"/.test(o));
      const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(serve.output())![1]!;
      const stalled = partialRequest(url);
      await new Promise((r) => setTimeout(r, 300));
      const stopping = Date.now();
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
      expect(Date.now() - stopping).toBeLessThan(REQUEST_TIMEOUT_MS);
      expect(serve.output()).toContain('shutdown timed out: closing the connections still open');
      await stalled;
    } finally {
      serve.child.kill('SIGKILL');
      await serve.exited;
      // The server opened the queues (their meta keys); nothing of this run stays behind.
      await deleteKeys(h.redis, prefix);
    }
  });
});

describe('logs', () => {
  // Last in the file: by now every test above has sent the token, as Bearer and as Basic.
  it('record every request but never the token', () => {
    expect(logs).toContain('"url":"/v1/dlq"');
    expect(logs).toContain('"statusCode":401');
    expect(logs).not.toContain(API_TOKEN);
    expect(logs).not.toContain(Buffer.from(`anyone:${API_TOKEN}`).toString('base64'));
  });
});
