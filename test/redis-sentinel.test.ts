import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountRuntimes } from '../src/app/runtime.ts';
import { loadConfig } from '../src/config.ts';
import { producerConnection, waitUntilReady, type RedisClient } from '../src/redis.ts';
import { runCli, startCli, type RunningProcess } from './helpers/processes.ts';
import { startSimulatorProcess, type SimulatorProcess } from './helpers/simulator-process.ts';
import { uniquePrefix } from './helpers/redis.ts';
import { startNode, startSentinels, type TestSentinels } from './helpers/redis-servers.ts';
import { waitFor } from './helpers/wait.ts';

/** A master, a replica and three sentinels: a Sentinel failover in the middle of a drain loses no job. */
const KEY = { id: 'sentinel-key', secret: `sentinel-${randomBytes(12).toString('hex')}` };

let redis: TestSentinels;
let sim: SimulatorProcess;
const processes: RunningProcess[] = [];
let connection: RedisClient | undefined;

beforeAll(async () => {
  redis = await startSentinels();
  sim = await startSimulatorProcess(['--latency', '5-15'], { ALIBABA_CLOUD_ACCESS_KEY_ID: KEY.id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: KEY.secret });
}, 60_000);

afterAll(async () => {
  for (const p of processes) p.child.kill('SIGKILL');
  connection?.disconnect();
  await sim?.stop();
  await redis?.stop();
});

const banLines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => JSON.stringify({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `${tag}-${i}`, Oneshot: 'yes' })).join('\n');

describe('Redis Sentinel', () => {
  it('a failover mid-drain loses no job: workers and producers follow the new master', async () => {
    const env = {
      REDIS_SENTINELS: redis.sentinels.map((s) => `${s.host}:${s.port}`).join(','), REDIS_SENTINEL_MASTER: redis.masterName,
      QUEUE_PREFIX: uniquePrefix('sentinel'), LIVE_ENDPOINT: sim.endpoint, ALIBABA_CLOUD_ACCESS_KEY_ID: KEY.id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: KEY.secret,
      LOG_LEVEL: 'info', METRICS_PORT: '0',
      // A job whose completion reached the old master only (the failover's window) is taken over after one lock period.
      JOB_LOCK_MS: '3000',
    };
    const config = loadConfig(env);
    connection = producerConnection(config.redis);
    connection.on('error', () => {});
    await waitUntilReady(connection, config.redis);
    const [runtime] = accountRuntimes(connection, config);
    expect((await runCli(['enqueue', 'forbid', '--file', '-'], env, banLines(240, 'sf'))).code).toBe(0);
    const since = Date.now();
    const worker = startCli(['worker'], env);
    processes.push(worker);
    await waitFor(async () => (await sim.calls(since)).length >= 60, 20_000, '60 calls before the failover');

    expect(await redis.sentinel(0).call('SENTINEL', 'FAILOVER', redis.masterName)).toBe('OK');
    await waitFor(async () => (await redis.currentMaster()) === redis.replica, 20_000, 'the replica promoted');
    // A producer after the failover reaches the new master.
    const after = await runCli(['enqueue', 'forbid', '--file', '-'], env, banLines(5, 'after'));
    expect(after.code, after.output).toBe(0);

    await waitFor(async () => {
      // This test's own fail-fast connection may still be switching masters: a failed read is "not yet".
      const rows = await runtime!.status().catch(() => undefined);
      return rows !== undefined && rows[0]!.waiting + rows[0]!.delayed + rows[0]!.active === 0 && rows[0]!.applied >= 245;
    }, 60_000, 'drained on the new master');
    expect((await runtime!.status())[0]!.deadLettered).toBe(0);
    const applied = new Set((await sim.calls(since)).filter((c) => c.code === 'OK').map((c) => c.params.StreamName));
    for (let i = 0; i < 240; i++) expect(applied.has(`sf-${i}`)).toBe(true);
    for (let i = 0; i < 5; i++) expect(applied.has(`after-${i}`)).toBe(true);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });

  it('an unreachable Sentinel setup is a clear error within seconds, naming it without a password', async () => {
    const started = Date.now();
    const result = await runCli(['status'], { REDIS_SENTINELS: '127.0.0.1:1', REDIS_SENTINEL_MASTER: 'nope', REDIS_PASSWORD: 'pw-must-not-show' });
    expect(result.code).toBe(3);
    expect(result.output).toContain('Redis is not reachable (master "nope" via Sentinel 127.0.0.1:1)');
    expect(result.output).not.toContain('pw-must-not-show');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('REDIS_PASSWORD', () => {
  it('authenticates every connection, and a wrong one is a one-line error that does not repeat it', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const node = await startNode(['--requirepass', password]);
    try {
      const env = { REDIS_URL: `redis://127.0.0.1:${node.port}`, QUEUE_PREFIX: uniquePrefix('password'), LOG_LEVEL: 'silent' };
      const enqueued = await runCli(['enqueue', 'forbid', '--file', '-', '--json'], { ...env, REDIS_PASSWORD: password }, banLines(2, 'pw'));
      expect(enqueued.code, enqueued.output).toBe(0);
      expect(JSON.parse(enqueued.stdout)).toMatchObject({ enqueued: 2 });
      const status = await runCli(['status', '--json'], { ...env, REDIS_PASSWORD: password });
      expect(JSON.parse(status.stdout)[0]).toMatchObject({ waiting: 2 });
      const wrong = await runCli(['status'], { ...env, REDIS_PASSWORD: 'not-the-password' });
      expect(wrong.code).toBe(3);
      expect(wrong.output).toMatch(/^livequeue: Redis is not reachable \(redis:\/\/127\.0\.0\.1:\d+\): WRONGPASS/m);
      expect(wrong.output).not.toContain('not-the-password');
      const none = await runCli(['status'], env);
      expect(none.code).toBe(3);
      expect(none.output).toContain('NOAUTH');
    } finally {
      await node.stop();
    }
  });
});
