import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountRuntimes, type AccountRuntime } from '../src/app/runtime.ts';
import { loadConfig } from '../src/config.ts';
import { producerConnection, waitUntilReady, type RedisClient } from '../src/redis.ts';
import { maxInAnyWindow } from '../src/sim/index.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { startSimulatorProcess, type SimulatorProcess } from './helpers/simulator-process.ts';
import { uniquePrefix } from './helpers/redis.ts';
import { startCluster, type TestCluster } from './helpers/redis-servers.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * A real Redis Cluster (3 masters, a replica each): connections follow the
 * slot map, each account's keys live in their own slot, and a failover in the
 * middle of a drain loses no job.
 */
const KEYS = Array.from({ length: 2 }, (_, i) => ({ id: `cluster-key-${i}`, secret: `cluster-${i}-${randomBytes(12).toString('hex')}` }));

let cluster: TestCluster;
let dir: string;
let sim: SimulatorProcess;
const processes: RunningProcess[] = [];
const connections: RedisClient[] = [];

beforeAll(async () => {
  cluster = await startCluster(3, 1);
  dir = mkdtempSync(join(tmpdir(), 'lq-cluster-test-'));
  const keysFile = join(dir, 'access-keys.json');
  writeFileSync(keysFile, JSON.stringify(Object.fromEntries(KEYS.map((k) => [k.id, k.secret]))));
  sim = await startSimulatorProcess(['--latency', '5-15', '--access-keys-file', keysFile]);
}, 90_000);

afterAll(async () => {
  for (const p of processes) p.child.kill('SIGKILL');
  for (const c of connections) c.disconnect();
  await sim?.stop();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Account names whose hash tags land on different masters, with the master of each. */
async function accountsOnDistinctShards(count: number): Promise<{ name: string; owner: number }[]> {
  const chosen: { name: string; owner: number }[] = [];
  for (let i = 0; chosen.length < count; i++) {
    const name = `acct${i}`;
    const owner = await cluster.ownerOf(`{${name}}`);
    if (!chosen.some((c) => c.owner === owner)) chosen.push({ name, owner });
  }
  return chosen;
}

function envFor(prefix: string, account: string, key: (typeof KEYS)[number], seed: number): Record<string, string> {
  return {
    REDIS_CLUSTER_NODES: `127.0.0.1:${seed}`, QUEUE_PREFIX: prefix, LIVE_ACCOUNT: account, LIVE_ENDPOINT: sim.endpoint,
    ALIBABA_CLOUD_ACCESS_KEY_ID: key.id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: key.secret, LOG_LEVEL: 'info', METRICS_PORT: '0',
    // A job whose completion was written in a failover's window is taken over after one lock period.
    JOB_LOCK_MS: '3000',
  };
}

async function runtimeFor(env: Record<string, string>): Promise<AccountRuntime> {
  const config = loadConfig(env);
  const redis = producerConnection(config.redis);
  redis.on('error', () => {});
  connections.push(redis);
  await waitUntilReady(redis, config.redis);
  return accountRuntimes(redis, config)[0]!;
}

const banLines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => JSON.stringify({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `${tag}-${i}`, Oneshot: 'yes' })).join('\n');

async function drained(runtime: AccountRuntime, timeoutMs: number): Promise<void> {
  await waitFor(async () => {
    const [forbid] = await runtime.status();
    return forbid!.waiting + forbid!.delayed + forbid!.active === 0 && forbid!.applied > 0;
  }, timeoutMs, `${runtime.name} drained`);
}

describe('Redis Cluster', () => {
  it('drains two accounts on two shards through a node that owns neither slot, each at its own quota', async () => {
    const accounts = await accountsOnDistinctShards(2);
    const seed = cluster.masters.find((port) => !accounts.some((a) => a.owner === port))!;
    const prefix = uniquePrefix('cluster-drain');
    const envs = accounts.map((a, i) => envFor(prefix, a.name, KEYS[i]!, seed));
    const workers = envs.map((env) => startCli(['worker'], env));
    processes.push(...workers);
    // Running workers meet the backlog, as in production: this test is about routing and shards, not a cold start's first calls.
    await Promise.all(workers.map((w) => waitForOutput(w, (o) => o.includes('workers started'))));
    const since = Date.now();
    // Enqueued through the CLI, which reaches the cluster through a node that redirects it.
    for (const [i, env] of envs.entries()) {
      const enqueue = await runCli(['enqueue', 'forbid', '--file', '-'], env, banLines(80, accounts[i]!.name));
      expect(enqueue.code, enqueue.output).toBe(0);
    }
    const runtimes = await Promise.all(envs.map(runtimeFor));
    await Promise.all(runtimes.map((r) => drained(r, 60_000)));

    for (const [i, runtime] of runtimes.entries()) {
      const [forbid] = await runtime.status();
      expect(forbid).toMatchObject({ applied: 80, deadLettered: 0, throttled: 0 });
      // The account's keys are where its hash tag says: on its own master.
      expect(await cluster.ownerOf(`${runtime.prefix}:forbid:wait`)).toBe(accounts[i]!.owner);
      const calls = (await sim.calls(since)).filter((c) => c.accessKeyId === KEYS[i]!.id && c.action === 'ForbidLiveStream');
      expect(calls.filter((c) => c.code !== 'OK')).toEqual([]);
      const arrivals = calls.map((c) => c.at).sort((a, b) => a - b);
      expect(maxInAnyWindow(arrivals, 1000)).toBeLessThanOrEqual(20);
      // Busy buckets: no less than 90% of the quota (the bench measures the figure itself).
      expect((arrivals.length - 1) / ((arrivals.at(-1)! - arrivals[0]!) / 1000)).toBeGreaterThan(18);
    }
    for (const w of workers) w.child.kill('SIGTERM');
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
  });

  it('runs the demo through any node, and cleans its keys up on every master', async () => {
    const seed = cluster.masters[0]!;
    // As the README says to run it on a cluster: a hash-tagged prefix.
    const demo = await runCli(['demo', '--bans', '40', '--monitor-stops', '10'], { REDIS_CLUSTER_NODES: `127.0.0.1:${seed}`, QUEUE_PREFIX: '{lq}', LOG_LEVEL: 'silent' });
    expect(demo.code, demo.output).toBe(0);
    expect(demo.stdout).toMatch(/prefix \{lq\}-demo-[0-9a-f]{6}/);
    expect(demo.stdout).toContain('enqueued 41 forbid jobs');
    expect(demo.stdout).toMatch(/dead-letter queue \(\d+ entries\)/);
    // The demo deletes its own keys on every master.
    const left = await Promise.all(cluster.masters.map((port) => cluster.node(port).keys('{lq}-demo-*')));
    expect(left.flat()).toEqual([]);
  });

  it('a CLUSTER FAILOVER mid-drain loses no job; producers meanwhile succeed or fail clearly, never hang', async () => {
    const [account] = await accountsOnDistinctShards(1);
    const owner = account!.owner;
    const replica = [...cluster.replicaOf].find(([, master]) => master === owner)![0];
    const prefix = uniquePrefix('cluster-failover');
    const env = envFor(prefix, account!.name, KEYS[0]!, cluster.masters[0]!);
    const runtime = await runtimeFor(env);
    expect((await runCli(['enqueue', 'forbid', '--file', '-', '--batch', 'before'], env, banLines(240, 'fo'))).code).toBe(0);
    const since = Date.now();
    const worker = startCli(['worker'], env);
    processes.push(worker);
    await waitFor(async () => (await sim.calls(since)).length >= 60, 20_000, '60 calls before the failover');

    expect(await cluster.node(replica).cluster('FAILOVER')).toBe('OK');
    // Producers during the failover: each answers within a bound, enqueued or with a clear error.
    const late: { code: number | null; output: string; ms: number }[] = [];
    for (let i = 0; i < 6; i++) {
      const started = Date.now();
      const result = await runCli(['enqueue', 'forbid', '--file', '-'], env, banLines(1, `late${i}`));
      late.push({ ...result, ms: Date.now() - started });
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const r of late) {
      expect(r.ms).toBeLessThan(15_000);
      if (r.code !== 0) expect(r.output).toMatch(/livequeue: .*Redis/);
    }
    await waitFor(async () => (await cluster.ownerOf(`{${account!.name}}`)) === replica, 20_000, 'the replica owns the slot');

    await drained(runtime, 60_000);
    const [forbid] = await runtime.status();
    expect(forbid!.deadLettered).toBe(0);
    // Every job enqueued (before, and the late ones that were accepted) was applied.
    const applied = new Set((await sim.calls(since)).filter((c) => c.code === 'OK').map((c) => c.params.StreamName));
    for (let i = 0; i < 240; i++) expect(applied.has(`fo-${i}`)).toBe(true);
    late.forEach((r, i) => {
      if (r.code === 0) expect(applied.has(`late${i}-0`)).toBe(true);
    });
    expect(worker.output()).not.toContain(KEYS[0]!.secret);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });
});
