import { Redis } from 'ioredis';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.ts';
import { readMaxmemoryPolicy, reportMaxmemoryPolicy } from '../src/redis-policy.ts';
import { singleNode } from '../src/redis.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET } from './helpers/harness.ts';
import { freePort } from './helpers/http.ts';
import { parseMetrics, valueOf } from './helpers/prometheus.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { uniquePrefix } from './helpers/redis.ts';
import { startNode } from './helpers/redis-servers.ts';

/**
 * BullMQ requires maxmemory-policy noeviction: under any other policy a full
 * Redis deletes queued jobs. Each case runs against a redis-server of its own
 * (started here, with the policy under test, and stopped with all its keys),
 * through the real `livequeue` command configured by the environment only.
 */

type Node = Awaited<ReturnType<typeof startNode>>;
let evicting: Node;
let strict: Node;

beforeAll(async () => {
  [evicting, strict] = await Promise.all([startNode(['--maxmemory-policy', 'allkeys-lru']), startNode(['--maxmemory-policy', 'noeviction'])]);
});
afterAll(async () => {
  await Promise.all([evicting?.stop(), strict?.stop()]);
});

const urlOf = (node: Node) => `redis://127.0.0.1:${node.port}`;

/** Environment of a deployed process: no flags, everything from variables. */
function envFor(node: Node, extra: Record<string, string>): Record<string, string> {
  return {
    REDIS_URL: urlOf(node), QUEUE_PREFIX: uniquePrefix('eviction'), LIVE_ENDPOINT: 'http://127.0.0.1:9',
    ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'info', ...extra,
  };
}

/** The process's JSON log lines. */
function logLines(p: RunningProcess): { level: number; msg: string; policy?: string }[] {
  return p.stdout().split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as { level: number; msg: string; policy?: string }];
    } catch {
      return [];
    }
  });
}

const policyLines = (p: RunningProcess) => logLines(p).filter((l) => l.policy !== undefined);

async function stop(p: RunningProcess): Promise<void> {
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await p.exited;
  clearTimeout(timer);
}

async function scrape(port: number) {
  return parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
}

describe('a Redis whose maxmemory-policy lets it delete jobs', () => {
  it('is named in one warning by `livequeue worker` and `livequeue serve`, in `status`, and by the gauge', async () => {
    const [metricsPort, httpPort] = [await freePort(), await freePort()];
    const worker = startCli(['worker'], envFor(evicting, { METRICS_PORT: String(metricsPort) }));
    const server = startCli(['serve'], envFor(evicting, { HTTP_PORT: String(httpPort) }));
    try {
      for (const p of [worker, server]) {
        await waitForOutput(p, () => policyLines(p).length > 0);
        const [line, ...more] = policyLines(p);
        expect(more, 'one line about the policy').toEqual([]);
        expect(line!.level, 'warn').toBe(40);
        expect(line!.policy).toBe('allkeys-lru');
        expect(line!.msg).toContain('maxmemory-policy is allkeys-lru, not noeviction');
        expect(line!.msg).toMatch(/jobs.*vanish/);
        expect(line!.msg).toContain('Set maxmemory-policy noeviction');
      }
      await waitForOutput(worker, (o) => o.includes('workers started'));
      expect(valueOf(await scrape(metricsPort), 'livequeue_redis_maxmemory_policy', { policy: 'allkeys-lru' })).toBe(1);
      await waitForOutput(server, (o) => o.includes('HTTP API listening'));
      expect(valueOf(await scrape(httpPort), 'livequeue_redis_maxmemory_policy', { policy: 'allkeys-lru' })).toBe(1);
    } finally {
      await Promise.all([stop(worker), stop(server)]);
    }

    const json = await runCli(['status', '--json'], envFor(evicting, {}));
    expect(json.code, json.output).toBe(0);
    const rows = JSON.parse(json.stdout) as { redisMaxmemoryPolicy: string }[];
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.redisMaxmemoryPolicy).toBe('allkeys-lru');

    const table = await runCli(['status'], envFor(evicting, {}));
    expect(table.code, table.output).toBe(0);
    expect(table.stdout.split('\n').filter((l) => l.startsWith('REDIS '))).toEqual([expect.stringContaining('maxmemory-policy is allkeys-lru, not noeviction')]);
  });
});

describe('a noeviction Redis', () => {
  it('gets no warning: one info line, the policy in `status` and the gauge', async () => {
    const metricsPort = await freePort();
    const worker = startCli(['worker'], envFor(strict, { METRICS_PORT: String(metricsPort) }));
    try {
      await waitForOutput(worker, () => policyLines(worker).length > 0 && worker.output().includes('workers started'));
      expect(policyLines(worker)).toEqual([expect.objectContaining({ level: 30, policy: 'noeviction', msg: 'Redis maxmemory-policy is noeviction' })]);
      expect(logLines(worker).filter((l) => l.level >= 40 && /maxmemory|evict/i.test(l.msg))).toEqual([]);
      const samples = await scrape(metricsPort);
      expect(valueOf(samples, 'livequeue_redis_maxmemory_policy', { policy: 'noeviction' })).toBe(1);
      expect(samples.filter((s) => s.name === 'livequeue_redis_maxmemory_policy')).toHaveLength(1);
    } finally {
      await stop(worker);
    }
    const json = await runCli(['status', '--json'], envFor(strict, {}));
    expect(json.code, json.output).toBe(0);
    for (const row of JSON.parse(json.stdout) as { redisMaxmemoryPolicy: string }[]) expect(row.redisMaxmemoryPolicy).toBe('noeviction');
    const table = await runCli(['status'], envFor(strict, {}));
    expect(table.stdout).not.toMatch(/^REDIS /m);
  });
});

describe('a Redis that refuses to say (managed services)', () => {
  it('answers through INFO when CONFIG is refused, and is "unknown" without failing when INFO is refused too', async () => {
    const nodes = await Promise.all([
      startNode(['--maxmemory-policy', 'volatile-lru', '--rename-command', 'CONFIG', '']),
      startNode(['--maxmemory-policy', 'volatile-lru', '--rename-command', 'CONFIG', '', '--rename-command', 'INFO', '']),
    ]);
    // No ready check: it asks INFO, which the second node refuses.
    const clients = nodes.map((n) => new Redis(urlOf(n), { maxRetriesPerRequest: 1, enableReadyCheck: false }));
    try {
      await expect(clients[0]!.config('GET', 'maxmemory-policy')).rejects.toThrow(/unknown command/);
      expect(await readMaxmemoryPolicy(clients[0]!)).toBe('volatile-lru');
      expect(await readMaxmemoryPolicy(clients[1]!)).toBe('unknown');

      // What a worker or server logs then: one warning that it could not tell.
      let logged = '';
      const sink = new Writable({ write: (chunk, _enc, done) => ((logged += String(chunk)), done()) });
      await reportMaxmemoryPolicy(clients[1]!, singleNode(urlOf(nodes[1]!)), createLogger('info', sink));
      const lines = logged.trim().split('\n').map((l) => JSON.parse(l) as { level: number; policy: string; msg: string });
      expect(lines).toEqual([expect.objectContaining({ level: 40, policy: 'unknown', msg: expect.stringContaining('make sure it is noeviction') })]);
    } finally {
      for (const c of clients) c.disconnect();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });
});
