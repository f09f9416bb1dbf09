import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Command } from 'commander';
import { selectedRuntime } from '../src/app/runtime.ts';
import { registerSimulate } from '../src/cli/commands/simulate.ts';
import { parseOperations } from '../src/cli/commands/worker.ts';
import { CONFIG_FLAGS } from '../src/cli/context.ts';
import { loadConfig } from '../src/config.ts';
import { AlibabaLiveClient, staticCredential } from '../src/live/client.ts';
import { OPERATION_INFO, OPERATIONS } from '../src/catalog/operations.ts';
import { maxInAnyWindow, type SimStats } from '../src/sim/index.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET } from './helpers/harness.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { deleteKeys, newRedis, REDIS_URL, testConfig, uniquePrefix } from './helpers/redis.ts';
import { startSimulatorProcess, type SimulatorProcess } from './helpers/simulator-process.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The product as deployed, not as the test harness wires it: `livequeue
 * worker` with no flags, the worker service of docker-compose.yml as written,
 * the CLI and HTTP API as users call them. Whatever a user can enqueue (bans,
 * monitor stops, and the lifts `batch undo` and POST /v1/resume-stream add)
 * must be drained by the default worker.
 */
const KEYS = { ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET };
const DOMAIN = 'demo.aliyundoc.com';
const line = (stream: string) => JSON.stringify({ DomainName: DOMAIN, AppName: 'liveApp', StreamName: stream });

const redis = newRedis();
const prefixes: string[] = [];
const running: RunningProcess[] = [];
let sim: SimulatorProcess;

function newPrefix(name: string): string {
  const prefix = uniquePrefix(name);
  prefixes.push(prefix);
  return prefix;
}

function start(args: string[], env: Record<string, string>): RunningProcess {
  const p = startCli(args, env);
  running.push(p);
  return p;
}

/** `livequeue <args> --json`, parsed; fails with the output when the command does. */
async function cliJson<T>(args: string[], env: Record<string, string>, input?: string): Promise<T> {
  const { code, stdout, output } = await runCli([...args, '--json'], env, input);
  if (code !== 0) throw new Error(`livequeue ${args.join(' ')} exited ${code}:\n${output}`);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

interface BatchCounts { jobs: number; applied: number; undone: number; undoPending: number; undoFailed: number }
interface StatusRow { operation: string; applied: number; waiting: number; active: number; deadLettered: number }

const simStats = () => sim.control<SimStats>('stats');
const okCalls = async (action: string) => (await sim.calls()).filter((c) => c.action === action && c.code === 'OK');

beforeAll(async () => {
  sim = await startSimulatorProcess(['--latency', '0-5'], KEYS);
});
afterEach(async () => {
  for (const p of running.splice(0)) {
    p.child.kill('SIGTERM');
    await Promise.race([p.exited, new Promise((r) => setTimeout(r, 5_000))]);
    p.child.kill('SIGKILL');
  }
  // Each test bans and lifts its own streams: start from an empty blacklist.
  await sim.control('reset', {});
});
afterAll(async () => {
  await sim.stop();
  for (const prefix of prefixes) await deleteKeys(redis, prefix);
  redis.disconnect();
});

describe('livequeue worker with no flags', () => {
  it('drains every operation: a batch undo and POST /v1/resume-stream are applied, /healthz says ok, GET /v1/jobs takes resume-stream ids', async () => {
    const env = { REDIS_URL, QUEUE_PREFIX: newPrefix('deployed-bare'), LIVE_ENDPOINT: sim.endpoint, METRICS_PORT: '0', LOG_LEVEL: 'info', ...KEYS };
    const worker = start(['worker'], env);
    const serve = start(['serve'], { ...env, HTTP_PORT: '0' });
    await waitForOutput(worker, (o) => o.includes('workers started'));
    await waitForOutput(serve, (o) => /"url":"http:\/\/127\.0\.0\.1:\d+"/.test(o));
    const api = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(serve.output())![1]!;
    const get = async (path: string) => {
      const response = await fetch(`${api}${path}`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as { results: { jobId: string; status: string }[] } };
    };

    // One worker process, started bare, serves every queue of the catalog.
    await waitFor(async () => (await get('/healthz')).body.status === 'ok', 10_000, '/healthz ok with a bare worker');
    const health = await get('/healthz');
    for (const op of OPERATIONS) expect((health.body.workers as Record<string, number>)[op], op).toBeGreaterThanOrEqual(1);

    // A batch of bans through the CLI, then taken back.
    const streams = ['bare-1', 'bare-2', 'bare-3'];
    const batch = 'deployed-defaults-bare';
    const enqueued = await cliJson<{ enqueued: number }>(['enqueue', 'forbid', '--file', '-', '--batch', batch], env, streams.map(line).join('\n'));
    expect(enqueued.enqueued).toBe(3);
    // Followed over HTTP (cheaper than a CLI process per look); the CLI has the last word below.
    await waitFor(async () => (await get(`/v1/batches/${batch}`)).body.applied === 3, 15_000, 'bans applied');
    expect((await simStats()).blacklist.size).toBe(3);

    const undo = await cliJson<{ resumesEnqueued: number }>(['batch', 'undo', batch], env);
    expect(undo.resumesEnqueued).toBe(3);
    await waitFor(async () => (await get(`/v1/batches/${batch}`)).body.undone === 3, 15_000, 'bans undone');
    // `batch show` as a user runs it, alongside the HTTP part below (which touches another batch).
    const shown = cliJson<BatchCounts>(['batch', 'show', batch], env);
    // The API lifted them: one ResumeLiveStream each, and the blacklist is empty again.
    expect((await okCalls('ResumeLiveStream')).map((c) => c.params.StreamName).sort()).toEqual(streams);
    expect((await simStats()).blacklist.size).toBe(0);

    // By hand: two bans over HTTP, one lifted over HTTP, the other with `enqueue resume-stream`; followed by job id.
    const ban = { DomainName: DOMAIN, AppName: 'liveApp', StreamName: 'http-1' };
    const banned = await post('/v1/forbid', [ban, { ...ban, StreamName: 'http-2' }]);
    expect(banned.status).toBe(202);
    const banIds = banned.body.results.map((r) => r.jobId);
    await waitFor(async () => (await Promise.all(banIds.map((id) => get(`/v1/jobs/${id}`)))).every((r) => r.body.state === 'applied'), 15_000, 'HTTP bans applied');
    const cliLift = cliJson<{ enqueued: number }>(['enqueue', 'resume-stream', '--file', '-'], env, line('http-2'));
    const lifted = await post('/v1/resume-stream', ban);
    expect(lifted.status).toBe(202);
    const liftId = lifted.body.results[0]!.jobId;
    expect(liftId).toMatch(/^resume-stream\.default\.[0-9a-f]{32}$/);
    expect((await get(`/v1/jobs/${liftId}`)).status).toBe(200);
    await waitFor(async () => (await get(`/v1/jobs/${liftId}`)).body.state === 'applied', 15_000, 'HTTP lift applied');
    expect(await get(`/v1/jobs/${liftId}`)).toMatchObject({ status: 200, body: { id: liftId, operation: 'ResumeLiveStream', state: 'applied' } });
    expect((await get(`/v1/jobs/resume-stream.default.${'0'.repeat(32)}`)).status).toBe(404);
    expect((await cliLift).enqueued).toBe(1);
    const cliLiftId = banIds[1]!.replace(/^forbid\./, 'resume-stream.');
    await waitFor(async () => (await get(`/v1/jobs/${cliLiftId}`)).body.state === 'applied', 15_000, 'CLI lift applied');
    expect((await okCalls('ResumeLiveStream')).map((c) => c.params.StreamName).sort()).toEqual([...streams, 'http-1', 'http-2']);
    expect((await simStats()).blacklist.size).toBe(0);
    expect(await shown).toMatchObject({ jobs: 3, applied: 3, undone: 3, undoPending: 0, undoFailed: 0 });
  });
});

/** Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (_, name: string, op: string | undefined, arg: string) => {
    const set = env[name];
    const usable = op?.startsWith(':') ? set !== undefined && set !== '' : set !== undefined;
    if (usable) return set!;
    if (op?.endsWith('?')) throw new Error(`compose would refuse to start: ${arg}`);
    return op?.endsWith('-') ? arg : '';
  });
}

/** The worker service of docker-compose.yml: its command and its environment, anchors merged. */
function composeWorker(): { command: string[]; environment: Record<string, string | number> } {
  const text = readFileSync(fileURLToPath(new URL('../docker-compose.yml', import.meta.url)), 'utf8');
  const compose = parseYaml(text, { merge: true }) as { services: Record<string, { command: string[]; environment: Record<string, string | number> }> };
  return compose.services.worker!;
}

describe('the worker of docker-compose.yml, as written', () => {
  it('passes every operation\'s QPS variable', () => {
    const { environment } = composeWorker();
    for (const op of OPERATIONS) {
      const variable = OPERATION_INFO[op].qpsVariable;
      expect(environment[variable], `${variable} in the compose worker`).toBe(`\${${variable}:-${OPERATION_INFO[op].defaultQps}}`);
    }
  });

  it('drains a ResumeLiveStream job', async () => {
    const prefix = newPrefix('deployed-compose');
    const { command, environment } = composeWorker();
    // What a user sets (secrets, the API endpoint); the rest is the compose file's.
    const userEnv = { QUEUE_PREFIX: prefix, LIVE_ENDPOINT: sim.endpoint, REDIS_PASSWORD: 'compose-redis-password', ...KEYS };
    const resolved = Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, interpolate(String(v), userEnv)]));
    expect(resolved).toMatchObject({ QUEUE_PREFIX: prefix, LIVE_ENDPOINT: sim.endpoint, ...KEYS });
    // Only the compose network's Redis changes: its `redis` host (with a password) is this machine's
    // Redis (without one), and port 9464 (one per container there) may be taken here.
    const env = { ...resolved, REDIS_URL, REDIS_PASSWORD: '', METRICS_PORT: '0' };
    const worker = start(command, env);
    await waitForOutput(worker, (o) => o.includes('workers started'));

    const cliEnv = { REDIS_URL, QUEUE_PREFIX: prefix };
    const batch = 'deployed-defaults-compose';
    await cliJson(['enqueue', 'forbid', '--file', '-', '--batch', batch], cliEnv, line('compose-1'));
    // Followed in this process (cheaper than a CLI process per look); the CLI has the last word below.
    const runtime = selectedRuntime(redis, testConfig(prefix));
    try {
      await waitFor(async () => (await runtime.batches.show(batch)).applied === 1, 15_000, 'ban applied');
      expect(await cliJson<{ resumesEnqueued: number }>(['batch', 'undo', batch], cliEnv)).toMatchObject({ resumesEnqueued: 1 });
      await waitFor(async () => (await runtime.status()).find((r) => r.operation === 'ResumeLiveStream')!.applied === 1, 15_000, 'ResumeLiveStream applied');
    } finally {
      await runtime.close();
    }
    const rows = await cliJson<StatusRow[]>(['status'], cliEnv);
    expect(rows.find((r) => r.operation === 'ResumeLiveStream')).toMatchObject({ applied: 1, waiting: 0, active: 0, deadLettered: 0 });
    expect((await okCalls('ResumeLiveStream')).map((c) => c.params.StreamName)).toEqual(['compose-1']);
    expect((await simStats()).blacklist.size).toBe(0);
  });
});

describe('flags of the same name on the program and a command', () => {
  it('`livequeue simulate --forbid-qps 5` sets the simulator\'s quota: the 6th call in a second is throttled', async () => {
    const slow = await startSimulatorProcess(['--forbid-qps', '5', '--latency', '0'], KEYS);
    running.push(slow.process);
    const client = new AlibabaLiveClient({ endpoint: slow.endpoint, regionId: 'cn-shanghai', timeoutMs: 5_000, credential: staticCredential(ACCESS_KEY_ID, ACCESS_KEY_SECRET) });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      client.call('ForbidLiveStream', { DomainName: DOMAIN, AppName: 'liveApp', StreamName: `quota-${i}`, LiveStreamType: 'publisher', Oneshot: 'yes' })));
    const throttled = results.filter((r) => !r.ok && 'code' in r && r.code === 'Throttling.User').length;
    expect(throttled).toBeGreaterThanOrEqual(1);
    const accepted = (await slow.calls()).filter((c) => c.action === 'ForbidLiveStream' && c.code === 'OK').map((c) => c.at).sort((a, b) => a - b);
    expect(maxInAnyWindow(accepted, 1000)).toBeLessThanOrEqual(5);
  });

  it('a command without a flag of its own still gives it to the program: `livequeue worker --forbid-qps 7`', async () => {
    const env = { REDIS_URL, QUEUE_PREFIX: newPrefix('deployed-flags'), LIVE_ENDPOINT: sim.endpoint, METRICS_PORT: '0', LOG_LEVEL: 'info', ...KEYS };
    const worker = start(['worker', '--forbid-qps', '7', '--resume-qps', '3'], env);
    await waitForOutput(worker, (o) => o.includes('workers started'));
    const started = JSON.parse(worker.stdout().split('\n').find((l) => l.includes('workers started'))!) as { accounts: { qps: Record<string, number> }[]; operations: string[] };
    expect(started.accounts[0]!.qps).toEqual({ ForbidLiveStream: 7, StopLiveStreamMonitor: OPERATION_INFO.StopLiveStreamMonitor.defaultQps, ResumeLiveStream: 3 });
    expect(started.operations).toEqual([...OPERATIONS]);
  });
});

describe('the operation catalog reaches every setting', () => {
  it('each operation has its QPS variable, accounts-file field, CLI flags and a place in the worker\'s --operations', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lq-catalog-'));
    for (const op of OPERATIONS) {
      const { qpsVariable, accountsFileField, defaultQps } = OPERATION_INFO[op];
      expect(loadConfig({ [qpsVariable]: '3' }).accounts[0]!.qps[op], qpsVariable).toBe(3);
      expect(loadConfig({}).accounts[0]!.qps[op]).toBe(defaultQps);
      const file = join(dir, `${op}.json`);
      writeFileSync(file, JSON.stringify({ accounts: [{ name: 'main', profile: 'main', [accountsFileField]: 4 }, { name: 'backup', profile: 'backup' }] }));
      const [main, backup] = loadConfig({ LIVEQUEUE_ACCOUNTS_FILE: file }).accounts;
      expect(main!.qps[op], accountsFileField).toBe(4);
      expect(backup!.qps[op]).toBe(defaultQps);
    }
    // The commands' definitions, read in this process (the flags' effect is tested through the CLI above).
    const program = new Command();
    registerSimulate(program);
    const simulateFlags = program.commands[0]!.options.map((o) => o.long);
    for (const op of OPERATIONS) {
      const { qpsFlag, qpsVariable, slug } = OPERATION_INFO[op];
      expect(CONFIG_FLAGS.find((f) => f.flag.startsWith(`${qpsFlag} `))?.variable).toBe(qpsVariable);
      expect(simulateFlags).toContain(qpsFlag);
      expect(parseOperations(slug)).toEqual([op]);
    }
    expect(() => parseOperations('nope')).toThrow(`unknown operation "nope" (use ${OPERATIONS.map((op) => OPERATION_INFO[op].slug).join(', ')})`);
  });
});
