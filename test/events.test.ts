import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { API_TOKEN } from './helpers/http.ts';
import { startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';
import { auditKey } from '../src/queue/names.ts';

/**
 * Producers learn outcomes without polling: `GET /v1/events` pushes every job
 * outcome and `batch.done` as Server-Sent Events, read from the audit trail,
 * so a client that reconnects with Last-Event-ID misses nothing. Through
 * `livequeue serve` and `livequeue worker` as users run them.
 */
const DOMAIN = 'demo.aliyundoc.com';
let h: Harness;
let env: Record<string, string>;
let worker: RunningProcess;
let serve: RunningProcess;
let url: string;

beforeAll(async () => {
  h = await startHarness('events');
  env = { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LIVE_ENDPOINT: h.endpoint, ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'info' };
  worker = startCli(['worker'], { ...env, METRICS_PORT: '0' });
  serve = startCli(['serve'], { ...env, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', LIVEQUEUE_API_TOKEN: API_TOKEN });
  await Promise.all([waitForOutput(worker, (o) => o.includes('workers started')), waitForOutput(serve, (o) => /"url":"http:\/\/127\.0\.0\.1:\d+"/.test(o))]);
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(serve.output())![1]!;
});
afterAll(async () => {
  for (const p of [worker, serve]) p?.child.kill('SIGTERM');
  await Promise.all([worker?.exited, serve?.exited]);
  await h.close();
});

interface SseEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** Reads events until `enough` says so (or the stream ends), then disconnects. */
async function readEvents(path: string, enough: (events: SseEvent[]) => boolean, lastEventId?: string): Promise<SseEvent[]> {
  const controller = new AbortController();
  const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) }, signal: controller.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const timer = setTimeout(() => controller.abort(), 20_000);
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':') && l.includes(': ')).map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]));
        if (fields.event) events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data ?? '{}') as Record<string, unknown> });
      }
      if (enough(events)) break;
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

const post = async (path: string, body: unknown) => {
  const response = await fetch(`${url}/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return (await response.json()) as Record<string, unknown>;
};

describe('GET /v1/events', () => {
  it('a client that disconnects mid-drain and comes back with Last-Event-ID gets every outcome once, then batch.done', async () => {
    const streams = Array.from({ length: 60 }, (_, i) => `sse-${i}`);
    // Connected before the enqueue: the events from now on.
    const first = readEvents('/v1/events?batch=sse', (events) => events.filter((e) => e.event === 'outcome').length >= 15);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await post('/forbid', { batch: 'sse', reason: 'spam ring', ticket: 'T-9', jobs: streams.map((StreamName) => ({ DomainName: DOMAIN, AppName: 'liveApp', StreamName })) });
    // An outcome of another batch is not for this client.
    await post('/forbid', { batch: 'other', jobs: [{ DomainName: DOMAIN, AppName: 'liveApp', StreamName: 'not-mine' }] });
    const before = await first;
    expect(before.length).toBeGreaterThanOrEqual(15);
    const after = await readEvents('/v1/events?batch=sse', (events) => events.some((e) => e.event === 'batch.done'), before.at(-1)!.id);

    const outcomes = [...before, ...after].filter((e) => e.event === 'outcome');
    expect(new Set(outcomes.map((e) => e.id)).size).toBe(outcomes.length);
    expect(outcomes.map((e) => e.data.stream).sort()).toEqual(streams.map((s) => `${DOMAIN}/liveApp/${s}`).sort());
    for (const e of outcomes) expect(e.data).toMatchObject({ operation: 'ForbidLiveStream', outcome: 'applied', batch: 'sse', actor: 'default', reason: 'spam ring', ticket: 'T-9' });
    for (const e of outcomes) expect(e.data.requestId).toMatch(/\S/);
    const done = after.filter((e) => e.event === 'batch.done');
    expect(done).toHaveLength(1);
    expect(done[0]!.data).toMatchObject({ batch: 'sse', operation: 'ForbidLiveStream', counts: { jobs: 60, applied: 60, alreadyApplied: 0, deadLettered: 0, cancelled: 0 } });
    // Ids grow: a client can resume from any of them.
    const ids = [...before, ...after].map((e) => e.id!);
    expect(ids).toEqual([...ids].sort((a, b) => (a.split('-').map(Number) < b.split('-').map(Number) ? -1 : 1)));
  });

  it('GET /v1/history names the acts behind a stream\'s outcomes; GET /v1/audit pages the trail', async () => {
    await waitFor(async () => (await h.runtime.batches.show('other')).applied === 1, 10_000, 'the other batch applied');
    const response = await fetch(`${url}/v1/history?stream=${encodeURIComponent(`${DOMAIN.toUpperCase()}/liveApp/sse-3`)}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(response.status).toBe(200);
    const { records } = (await response.json()) as { records: Record<string, unknown>[] };
    expect(records.map((r) => [r.kind, r.operation, r.outcome, r.batch, r.actor, r.reason])).toEqual([['outcome', 'ForbidLiveStream', 'applied', 'sse', 'default', 'spam ring']]);
    const bad = await fetch(`${url}/v1/history?stream=nope`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('DOMAIN/APP/STREAM');

    const page = async (query: string) => (await (await fetch(`${url}/v1/audit?${query}`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).json()) as { records: Record<string, unknown>[]; next?: string };
    const one = await page('limit=5');
    expect(one.records).toHaveLength(5);
    const two = await page(`limit=1000&after=${one.next}`);
    const all = [...one.records, ...two.records];
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
    expect(all.filter((r) => r.kind === 'act' && r.act === 'enqueue').map((r) => [r.batch, r.actor, r.reason])).toEqual([['sse', 'default', 'spam ring'], ['other', 'default', undefined]]);
    expect(all.filter((r) => r.kind === 'outcome')).toHaveLength(61);
    // ?account= names the account as /v1/accounts/:account/events does; an unknown one is a 404 naming it.
    const unknown = await fetch(`${url}/v1/events?account=nope`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('nope');
    const named = await readEvents(`/v1/events?account=${h.runtime.name}&batch=sse`, (events) => events.length >= 3, '0-0');
    expect(named.length).toBeGreaterThanOrEqual(3);
    for (const e of named) expect(e.data.batch).toBe('sse');

    // The token's name is the actor; the token itself is nowhere in the trail.
    const raw = JSON.stringify(await h.redis.xrange(auditKey(h.runtime.prefix), '-', '+'));
    expect(raw).toContain('"default"');
    expect(raw).not.toContain(API_TOKEN);
  });
});
