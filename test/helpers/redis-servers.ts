import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { HostPort } from '../../src/redis.ts';
import { waitFor } from './wait.ts';

/**
 * Real Redis topologies for the tests, on free loopback ports, stopped by the
 * caller: a Redis Cluster (masters, each with replicas) and a Sentinel setup
 * (a master, a replica, three sentinels).
 */

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port that is free, with its cluster bus port (+10000) free too. Both lie
 * below Linux's ephemeral range (32768 and up): there, a client connection
 * opened meanwhile can take the port before redis-server binds it.
 */
async function freePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * 12_700);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await isFree(port)) && (await isFree(port + 10_000))) {
      taken.add(port);
      taken.add(port + 10_000);
      return port;
    }
  }
}

interface Servers {
  dir: string;
  children: Map<number, ChildProcess>;
}

function startServer(servers: Servers, port: number, args: string[]): void {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', servers.dir, ...args], { stdio: 'ignore' });
  servers.children.set(port, child);
}

async function answers(port: number): Promise<boolean> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function stopAll(servers: Servers): Promise<void> {
  await Promise.all(
    [...servers.children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  rmSync(servers.dir, { recursive: true, force: true });
}

/** One Redis node with extra arguments (e.g. `--requirepass`), on a free port. */
export async function startNode(args: string[] = []): Promise<{ port: number; stop(): Promise<void> }> {
  const servers: Servers = { dir: mkdtempSync(join(tmpdir(), 'lq-node-')), children: new Map() };
  const port = await freePort(new Set());
  startServer(servers, port, args);
  // A node with a password answers PING with NOAUTH: wait for the port instead.
  const child = servers.children.get(port)!;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode} before it listened`);
    return !(await isFree(port));
  }, 10_000, 'redis-server listening');
  return { port, stop: () => stopAll(servers) };
}

export interface TestCluster {
  masters: number[];
  /** Replica port -> the port of its master. */
  replicaOf: Map<number, number>;
  nodes: HostPort[];
  /** A direct connection to one node. */
  node(port: number): Redis;
  /** The port of the master that owns a key's slot now. */
  ownerOf(key: string): Promise<number>;
  stop(): Promise<void>;
}

/** A Redis Cluster of `masters` masters with `replicas` replicas each, created with redis-cli --cluster create. */
export async function startCluster(masters = 3, replicas = 1): Promise<TestCluster> {
  const servers: Servers = { dir: mkdtempSync(join(tmpdir(), 'lq-cluster-')), children: new Map() };
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters * (1 + replicas); i++) ports.push(await freePort(taken));
  for (const port of ports) {
    // A short node timeout: a failover is decided in seconds, not the default 15.
    startServer(servers, port, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '1500']);
  }
  const connections = new Map<number, Redis>();
  const node = (port: number) => {
    let c = connections.get(port);
    if (!c) {
      c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      connections.set(port, c);
    }
    return c;
  };
  const stop = async () => {
    for (const c of connections.values()) c.disconnect();
    await stopAll(servers);
  };
  try {
    await waitFor(async () => (await Promise.all(ports.map(answers))).every(Boolean), 10_000, 'cluster nodes up');
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    await waitFor(async () => {
      const infos = await Promise.all(ports.map((p) => node(p).cluster('INFO') as Promise<string>));
      return infos.every((info) => info.includes('cluster_state:ok'));
    }, 20_000, 'cluster state ok');
    const replicaOf = new Map<number, number>();
    const roles = await Promise.all(ports.map(async (p) => [p, (await node(p).role()) as unknown[]] as const));
    const masterPorts = roles.filter(([, role]) => role[0] === 'master').map(([p]) => p);
    for (const [p, role] of roles) if (role[0] === 'slave') replicaOf.set(p, Number(role[2]));
    // Replicas report their master once they have synced.
    await waitFor(async () => {
      const all = await Promise.all([...replicaOf.keys()].map(async (p) => (await node(p).role()) as unknown[]));
      return all.every((role) => role[3] === 'connected');
    }, 20_000, 'replicas in sync');
    return {
      masters: masterPorts,
      replicaOf,
      nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
      node,
      async ownerOf(key) {
        const slot = (await node(ports[0]!).cluster('KEYSLOT', key)) as number;
        const ranges = await node(ports[0]!).cluster('SLOTS');
        const range = ranges.find(([from, to]) => slot >= from && slot <= to)!;
        return range[2]![1];
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface TestSentinels {
  masterName: string;
  sentinels: HostPort[];
  /** Ports of the master and the replica at start. */
  master: number;
  replica: number;
  sentinel(i: number): Redis;
  /** The master's port as the sentinels see it now. */
  currentMaster(): Promise<number>;
  stop(): Promise<void>;
}

/** A master, one replica and three sentinels watching them (quorum 2). */
export async function startSentinels(masterName = 'lqmaster'): Promise<TestSentinels> {
  const servers: Servers = { dir: mkdtempSync(join(tmpdir(), 'lq-sentinel-')), children: new Map() };
  const taken = new Set<number>();
  const master = await freePort(taken);
  const replica = await freePort(taken);
  const sentinelPorts = [await freePort(taken), await freePort(taken), await freePort(taken)];
  startServer(servers, master, []);
  startServer(servers, replica, ['--replicaof', '127.0.0.1', String(master)]);
  const connections: Redis[] = [];
  const stop = async () => {
    for (const c of connections) c.disconnect();
    await stopAll(servers);
  };
  try {
    await waitFor(async () => (await answers(master)) && (await answers(replica)), 10_000, 'master and replica up');
    for (const port of sentinelPorts) {
      const file = join(servers.dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `sentinel monitor ${masterName} 127.0.0.1 ${master} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      servers.children.set(port, spawn('redis-server', [file, '--sentinel'], { stdio: 'ignore' }));
    }
    for (const port of sentinelPorts) {
      const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      connections.push(c);
    }
    const sentinel = (i: number) => connections[i]!;
    // Every sentinel has found the replica and the other sentinels.
    await waitFor(async () => {
      const views = await Promise.all(connections.map(async (c) => {
        const info = (await c.call('SENTINEL', 'MASTER', masterName)) as string[];
        const field = (name: string) => Number(info[info.indexOf(name) + 1]);
        return field('num-slaves') === 1 && field('num-other-sentinels') === 2;
      }).map((p) => p.catch(() => false)));
      return views.every(Boolean);
    }, 20_000, 'sentinels ready');
    return {
      masterName,
      sentinels: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
      master,
      replica,
      sentinel,
      async currentMaster() {
        const [, port] = (await sentinel(0).call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string];
        return Number(port);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
