import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobId } from '../src/queue/names.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness, type Harness } from './helpers/harness.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { REDIS_URL } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Signed webhooks for job outcomes and finished batches, delivered by
 * `livequeue worker` to local receivers, with the command as users run it.
 */
const DOMAIN = 'demo.aliyundoc.com';
const APP = 'liveApp';
const SECRET = randomBytes(24).toString('hex');
const FORBID_QPS = 20;
let h: Harness;
let env: Record<string, string>;
let dir: string;
const workers: RunningProcess[] = [];

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  json: { id: string; type: string; account: string; data: Record<string, unknown> };
}

/** A receiver on 127.0.0.1 answering each request with `answer(n)` (n counts from 0), or holding it unanswered. */
async function receiver(answer: (n: number) => number | 'hold'): Promise<{ url: string; got: Delivery[]; server: Server }> {
  const got: Delivery[] = [];
  let n = 0;
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const status = answer(n++);
      if (status === 'hold') return;
      if (status >= 200 && status < 300) got.push({ headers: request.headers, body, json: JSON.parse(body) as Delivery['json'] });
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, server };
}

/** The receiver's check, as README shows it: HMAC-SHA256 of "<timestamp>.<body>", compared in constant time; at most 5 minutes old. */
function verified(d: Delivery): boolean {
  const timestamp = String(d.headers['livequeue-timestamp']);
  const expected = Buffer.from(`v1=${createHmac('sha256', SECRET).update(`${timestamp}.${d.body}`).digest('hex')}`);
  const given = Buffer.from(String(d.headers['livequeue-signature']));
  return given.length === expected.length && timingSafeEqual(given, expected) && Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
}

function webhooksFile(name: string, entries: unknown[]): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(entries));
  return path;
}

const streams = (batch: string, count: number) => Array.from({ length: count }, (_, i) => `${batch}-${i}`);
const jsonl = (names: string[]) => names.map((s) => JSON.stringify({ DomainName: DOMAIN, AppName: APP, StreamName: s })).join('\n');
/** Every idempotency key a batch's bans and its end make. */
const keysOf = (batch: string, names: string[]) => [
  ...names.map((s) => `${jobId('ForbidLiveStream', h.runtime.name, { DomainName: DOMAIN, AppName: APP, StreamName: s, LiveStreamType: 'publisher' })}:applied`),
  `batch:${batch}:done`,
];

async function enqueue(batch: string, names: string[], e = env): Promise<void> {
  const run = await runCli(['enqueue', 'forbid', '--file', '-', '--batch', batch], e, jsonl(names));
  expect(run.code, run.output).toBe(0);
}

async function startWorker(workerEnv: Record<string, string>): Promise<RunningProcess> {
  const worker = startCli(['worker', '--operations', 'forbid'], { ...workerEnv, LOG_LEVEL: 'info', METRICS_PORT: '0' });
  workers.push(worker);
  await waitForOutput(worker, (o) => o.includes('webhook deliveries started') && o.includes('workers started'));
  return worker;
}

let flaky: Awaited<ReturnType<typeof receiver>>;
let dead: Awaited<ReturnType<typeof receiver>>;

beforeAll(async () => {
  h = await startHarness('webhooks');
  dir = mkdtempSync(join(tmpdir(), 'livequeue-webhooks-'));
  env = { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LIVE_ENDPOINT: h.endpoint, ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'warn', FORBID_QPS: String(FORBID_QPS), WEBHOOKS_ALLOW_HTTP_LOOPBACK: '1', WH_SECRET: SECRET };
  flaky = await receiver((n) => (n < 3 ? 500 : 200));
  dead = await receiver(() => 'hold');
  const file = webhooksFile('main', [
    { name: 'flaky', url: flaky.url, events: ['outcome', 'batch.done'], secretEnv: 'WH_SECRET' },
    { name: 'dead', url: dead.url, events: ['outcome', 'batch.done'], secretEnv: 'WH_SECRET', ratePerSecond: 50 },
  ]);
  await startWorker({ ...env, LIVEQUEUE_WEBHOOKS_FILE: file });
});

afterAll(async () => {
  // The dead receiver lets go of its sockets, so in-flight deliveries end and the workers stop at once.
  for (const r of [flaky, dead]) r?.server.closeAllConnections();
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  for (const r of [flaky, dead]) r?.server.close();
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('webhooks', () => {
  it('a receiver that fails its first 3 deliveries still gets every outcome of a 30-ban batch and its batch.done, each signed', async () => {
    const names = streams('thirty', 30);
    await enqueue('thirty', names);
    const want = keysOf('thirty', names);
    const keys = () => new Set(flaky.got.map((d) => String(d.headers['idempotency-key'])));
    await waitFor(() => want.every((k) => keys().has(k)), 30_000, 'every idempotency key delivered');
    const mine = flaky.got.filter((d) => d.json.data.batch === 'thirty');
    for (const d of mine) {
      expect(verified(d), d.body).toBe(true);
      expect(d.headers['content-type']).toBe('application/json');
      expect(d.headers['livequeue-id']).toBe(d.json.id);
      expect(d.json.account).toBe(h.runtime.name);
      expect(d.json.data.id).toBe(d.json.id);
    }
    const outcome = mine.find((d) => d.json.type === 'outcome')!;
    expect(outcome.json.data).toMatchObject({ operation: 'ForbidLiveStream', outcome: 'applied', batch: 'thirty' });
    expect(mine.find((d) => d.json.type === 'batch.done')!.json.data).toMatchObject({ batch: 'thirty', counts: { jobs: 30, applied: 30 } });
    // A forged signature would not pass the same check.
    expect(verified({ ...outcome, body: outcome.body.replace('applied', 'dead-lettered') })).toBe(false);
  });

  it('a receiver that never answers does not slow the bans: the drain keeps FORBID_QPS within 10%', async () => {
    const names = streams('sixty', 60);
    await enqueue('sixty', names);
    await waitFor(async () => (await h.runtime.batches.show('sixty')).applied === 60, 20_000, 'sixty applied');
    const calls = h.sim.calls().filter((c) => c.action === 'ForbidLiveStream' && c.code === 'OK' && c.params.StreamName?.startsWith('sixty-'));
    expect(calls).toHaveLength(60);
    const rate = (calls.length - 1) / ((calls.at(-1)!.at - calls[0]!.at) / 1000);
    console.log(`bans applied at ${rate.toFixed(2)}/s with a dead receiver configured (FORBID_QPS ${FORBID_QPS})`);
    expect(Math.abs(rate - FORBID_QPS) / FORBID_QPS).toBeLessThanOrEqual(0.1);
    // The dead endpoint's deliveries are held open: it got requests and answered none.
    expect(dead.got).toHaveLength(0);
  });

  it('a bad webhooks file is a config error naming the file, the entry, the field and the rule, never the secret', async () => {
    const ok = { name: 'ok', url: 'https://hooks.example.com/livequeue', events: ['outcome'], secretEnv: 'WH_SECRET' };
    const cases: [unknown[], Record<string, string>, string][] = [
      [[ok, { ...ok, name: 'bad', url: 'ftp://hooks.example.com/x' }], {}, 'webhooks[1].url: must be https://'],
      [[{ ...ok, events: ['outcome', 'batch.started'] }], {}, 'webhooks[0].events[1]: each event must be one of outcome, batch.done'],
      [[ok, { ...ok, url: 'https://other.example.com/' }], {}, 'webhooks[1].name: "ok" is already the name of webhooks[0]'],
      [[{ ...ok, secretEnv: 'WH_SHORT' }], { WH_SHORT: 'a-short-secret-value' }, 'webhooks[0].secretEnv: the secret in WH_SHORT must be at least 32 characters'],
      [[{ ...ok, secretEnv: 'WH_UNSET' }], {}, 'webhooks[0].secretEnv: the environment variable WH_UNSET is not set'],
      [[{ ...ok, url: flaky.url }], { WEBHOOKS_ALLOW_HTTP_LOOPBACK: '0' }, 'webhooks[0].url: must be https://'],
      [[{ ...ok, name: 'has space' }], {}, 'webhooks[0].name: name must be 1 to 64 letters, digits, _ . -'],
    ];
    for (const [i, [entries, extra, message]] of cases.entries()) {
      const path = webhooksFile(`bad-${i}`, entries);
      const run = await runCli(['status'], { ...env, ...extra, LIVEQUEUE_WEBHOOKS_FILE: path });
      expect(run.code, run.output).toBe(2);
      expect(run.output).toContain(`LIVEQUEUE_WEBHOOKS_FILE ${path}: ${message}`);
      for (const secret of [SECRET, 'a-short-secret-value']) expect(run.output).not.toContain(secret);
    }
  });

  it('deliveries that used every attempt show in `status` and `webhooks replay` sends them once the receiver answers', async () => {
    let answer = 503;
    const down = await receiver(() => answer);
    try {
      const downEnv = { ...env, LIVEQUEUE_WEBHOOKS_FILE: webhooksFile('down', [{ name: 'down', url: down.url, events: ['outcome', 'batch.done'], secretEnv: 'WH_SECRET' }]), WEBHOOK_RETRY_FOR_MS: '2000' };
      await startWorker(downEnv);
      const names = streams('few', 3);
      await enqueue('few', names, downEnv);
      const status = async () => (await runCli(['status'], downEnv)).stdout;
      let text = '';
      await waitFor(async () => (text = await status()).includes('WEBHOOK down: 4 deliveries failed for good; livequeue webhooks replay down'), 20_000, 'failed deliveries in status', 300);
      const json = JSON.parse((await runCli(['status', '--json'], downEnv)).stdout) as { webhooks?: { endpoint: string; failed: number }[] }[];
      expect(json[0]!.webhooks).toEqual([expect.objectContaining({ endpoint: 'down', failed: 4 })]);
      expect(text).not.toContain(SECRET);

      answer = 200;
      const replay = await runCli(['webhooks', 'replay', 'down'], downEnv);
      expect(replay.code, replay.output).toBe(0);
      expect(replay.stdout).toContain('replayed 4 failed deliveries to down');
      const want = keysOf('few', names);
      await waitFor(() => want.every((k) => down.got.some((d) => d.headers['idempotency-key'] === k)), 15_000, 'replayed deliveries arrive');
      for (const d of down.got) expect(verified(d)).toBe(true);
      expect(await status()).not.toContain('WEBHOOK down');
      // The secret is in no delivery job, dead letter or log line.
      const keys = await h.redis.keys(`${h.runtime.prefix}:webhook:*`);
      const stored = await Promise.all(keys.map(async (k) => ((await h.redis.type(k)) === 'hash' ? JSON.stringify(await h.redis.hgetall(k)) : '')));
      expect(stored.join('')).toContain('few-0');
      expect(stored.join('')).not.toContain(SECRET);
      expect(workers.at(-1)!.output()).toContain('webhook delivery failed for good');
      for (const w of workers) expect(w.output()).not.toContain(SECRET);
      const unknown = await runCli(['webhooks', 'replay', 'nope'], downEnv);
      expect(unknown.code).toBe(2);
      expect(unknown.output).toContain('no webhook endpoint named "nope"');
    } finally {
      down.server.closeAllConnections();
      down.server.close();
    }
  });
});
