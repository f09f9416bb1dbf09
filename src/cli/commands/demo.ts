import { randomBytes, randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { Config } from '../../config.ts';
import { OPERATIONS, OPERATION_INFO, type Operation } from '../../catalog/operations.ts';
import type { EnqueueRecord } from '../../intake/enqueue.ts';
import type { OperationStatus } from '../../ledger/status.ts';
import type { AccountRuntime } from '../../app/runtime.ts';
import type { RedisSettings } from '../../redis.ts';
import type { LiveApiSimulator } from '../../sim/index.ts';
import { configFor } from '../context.ts';
import { UsageError } from '../errors.ts';
import { untilStopSignal } from '../../signals.ts';
import { formatEntry } from './dlq.ts';
import { formatStatusTable } from './status.ts';

const DOMAIN = 'demo.aliyundoc.com';

/** Resolves with what asked the demo to stop: a signal, or standard output closed under it. */
function stopRequested(): Promise<string> {
  return new Promise((resolve) => {
    process.stdout.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EPIPE' ? 'output closed' : `output failed (${error.code})`));
    void untilStopSignal().then(resolve);
  });
}

/** The configured Redis, or a private redis-server when none answers and one is installed. */
async function reachRedis(config: Config): Promise<{ settings: RedisSettings; private: boolean; stop: () => Promise<void> }> {
  const { describeRedis, producerConnection, singleNode, waitUntilReady } = await import('../../redis.ts');
  const probe = producerConnection(config.redis);
  probe.on('error', () => {});
  try {
    await waitUntilReady(probe, config.redis, 2_000);
    return { settings: config.redis, private: false, stop: async () => {} };
  } catch (error) {
    // Only the plain single-node default falls back: a configured cluster or sentinel that fails is an error to see.
    if (config.redis.mode !== 'single') throw error;
    const { LocalRedisServer } = await import('../../local-redis.ts');
    if (!LocalRedisServer.isInstalled()) {
      throw new UsageError(
        `no Redis answers at ${describeRedis(config.redis)} and redis-server is not installed. Start one (e.g. \`apt-get install redis-server\`, or the compose file's Redis as the README's "Quick start" shows) or set REDIS_URL.`,
      );
    }
    const server = await LocalRedisServer.start();
    process.stdout.write(`no Redis at ${describeRedis(config.redis)}: started a private redis-server on ${server.url}\n`);
    return { settings: singleNode(server.url), private: true, stop: () => server.stop() };
  } finally {
    probe.disconnect();
  }
}

/** The demo's jobs, by operation: the operations it does not run have none. */
type DemoWork = Partial<Record<Operation, EnqueueRecord[]>>;

/** The demo's input: mass bans, monitor stops, and a few records that must end badly. */
function demoWork(sim: LiveApiSimulator, bans: number, monitorStops: number): DemoWork {
  const forbid: EnqueueRecord[] = Array.from({ length: bans }, (_, i) => ({
    params: { DomainName: DOMAIN, AppName: 'liveApp', StreamName: `stream-${i}`, ...(i % 3 === 0 ? { ResumeTime: '2030-01-01T00:00:00Z' } : {}), ...(i % 10 === 0 ? { Oneshot: 'yes' } : {}) },
  }));
  // Invalid input is reported and never enqueued.
  forbid.push({ params: { DomainName: DOMAIN, AppName: 'liveApp', StreamName: 'bad-time', ResumeTime: '2030-01-01 00:00' } });
  forbid.push({ params: { DomainName: DOMAIN, AppName: 'liveApp', StreamName: 'bad-type', LiveStreamType: 'player' } });
  // One urgent ban, taken before the backlog.
  forbid.push({ params: { DomainName: DOMAIN, AppName: 'liveApp', StreamName: 'urgent-ban' }, priority: 'urgent' });

  const running = sim.createMonitors(monitorStops - Math.floor(monitorStops / 10));
  const unknown = Array.from({ length: Math.floor(monitorStops / 10) }, () => randomUUID());
  const stopMonitor: EnqueueRecord[] = [...running, ...unknown].map((MonitorId) => ({ params: { MonitorId } }));
  return { ForbidLiveStream: forbid, StopLiveStreamMonitor: stopMonitor };
}

async function watchDrain(runtime: AccountRuntime, totals: Record<Operation, number>): Promise<OperationStatus[]> {
  const { default: cliProgress } = await import('cli-progress');
  const done = (s: OperationStatus) => s.applied + s.alreadyApplied + s.deadLettered;
  const tty = process.stdout.isTTY;
  const bars = tty ? new cliProgress.MultiBar({ format: '{name} [{bar}] {value}/{total} | applied {applied} | already {already} | dead {dead} | {rate}/s', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  const bar = Object.fromEntries(OPERATIONS.map((op) => [op, totals[op] === 0 ? undefined : bars?.create(totals[op], 0, { name: OPERATION_INFO[op].slug.padEnd(12), applied: 0, already: 0, dead: 0, rate: 0 })]));
  const started = Date.now();
  let lastLine = 0;
  for (;;) {
    const rows = await runtime.status();
    const seconds = (Date.now() - started) / 1000;
    for (const row of rows) {
      bar[row.operation]?.update(done(row), { applied: row.applied, already: row.alreadyApplied, dead: row.deadLettered, rate: (done(row) / seconds).toFixed(1) });
    }
    if (!tty && Date.now() - lastLine > 2000) {
      lastLine = Date.now();
      process.stdout.write(`${rows.map((r) => `${OPERATION_INFO[r.operation].slug}: ${done(r)}/${totals[r.operation]}`).join('  ')}\n`);
    }
    if (rows.every((r) => done(r) >= totals[r.operation] && r.active === 0 && r.waiting === 0 && r.delayed === 0)) {
      bars?.stop();
      return rows;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Enqueues the demo's work, one batch per operation, and prints what went in and what was refused. */
async function enqueueWork(runtime: AccountRuntime, work: DemoWork, newBatchId: () => string): Promise<Record<Operation, number>> {
  const totals = Object.fromEntries(OPERATIONS.map((op) => [op, 0])) as Record<Operation, number>;
  for (const operation of OPERATIONS.filter((op) => (work[op]?.length ?? 0) > 0)) {
    const batch = newBatchId();
    const { results } = await runtime.intake.enqueue(operation, work[operation] ?? [], batch, { actor: 'demo', reason: 'livequeue demo' });
    totals[operation] = results.filter((r) => r.status === 'enqueued').length;
    process.stdout.write(`enqueued ${totals[operation]} ${OPERATION_INFO[operation].slug} jobs (batch ${batch})\n`);
    results.forEach((r, i) => {
      if (r.status === 'invalid') process.stdout.write(`  rejected record ${i + 1}: ${r.errors.map((e) => e.message).join('; ')}\n`);
    });
  }
  process.stdout.write('\n');
  return totals;
}

/** After the drain: the status table, what the simulator saw, the dead letters. */
async function printReport(runtime: AccountRuntime, sim: LiveApiSimulator, rows: OperationStatus[], totals: Record<Operation, number>, qps: Record<Operation, number>): Promise<void> {
  process.stdout.write(`\n${formatStatusTable(rows)}\n\n`);
  const simStats = sim.stats();
  for (const op of OPERATIONS.filter((o) => totals[o] > 0)) {
    process.stdout.write(`simulator, ${op}: most calls in any rolling second ${simStats.actions[op].maxCallsInAnyWindow} (limit ${qps[op]}), answers ${JSON.stringify(simStats.actions[op].byCode)}\n`);
  }
  const entries = await runtime.deadLetters.list();
  process.stdout.write(`\ndead-letter queue (${entries.length} entries):\n${entries.map(formatEntry).join('\n')}\n`);
}

function parseCount(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new UsageError(`${flag} must be a whole number from 1 to 100000 (got "${value}")`);
  return n;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('End-to-end run on this machine: the built-in simulator, a worker, a few hundred bans and monitor stops (some must dead-letter), the drain, the summary and the dead-letter list.')
    .option('--bans <n>', 'ForbidLiveStream jobs to enqueue', '300')
    .option('--monitor-stops <n>', 'StopLiveStreamMonitor jobs to enqueue (one in ten for a monitor that does not exist)', '100')
    .addHelpText('after', '\nUses Redis at REDIS_URL, or starts a private redis-server when none answers.\nExample:\n  $ livequeue demo --bans 1000')
    .action((opts: { bans: string; monitorStops: string }, command: Command) => runDemo(configFor(command), parseCount(opts.bans, '--bans'), parseCount(opts.monitorStops, '--monitor-stops')));
}

async function runDemo(base: Config, bans: number, monitorStops: number): Promise<void> {
  // Loaded on use: every command pays only for its own modules.
  const [{ LiveApiSimulator }, { AccountRuntime }, { accountWorkers }, { AlibabaLiveClient, staticCredential }, { createLogger }, { deleteKeysWithPrefix, describeRedis, workerConnection }, { newBatchId }] = await Promise.all([
    import('../../sim/index.ts'),
    import('../../app/runtime.ts'),
    import('../../app/account-workers.ts'),
    import('../../live/client.ts'),
    import('../../log.ts'),
    import('../../redis.ts'),
    import('../../jobs/batch-id.ts'),
  ]);
  const redisTarget = await reachRedis(base);
  // The demo keeps to its own keys so it never touches real queues on the same Redis.
  // The prefix's hash tag, if any, carries over: on a cluster the demo's keys share a slot too.
  const config: Config = { ...base, redis: redisTarget.settings, prefix: `${base.prefix}-demo-${randomBytes(3).toString('hex')}` };
  // A throwaway AccessKey that only this simulator knows.
  const accessKeyId = `demo-${randomBytes(6).toString('hex')}`;
  const accessKeySecret = randomBytes(24).toString('base64url');
  const account = config.accounts.find((a) => a.name === config.account)!;
  const qps = account.qps;
  const sim = new LiveApiSimulator({ accessKeys: { [accessKeyId]: accessKeySecret }, qps, latencyMs: { min: 10, max: 30 }, faults: { internalErrorRate: 0.02 } });
  const endpoint = await sim.start();

  const redis = workerConnection(config.redis);
  const runtime = new AccountRuntime(redis, config, account);
  // The demo shows its own summary; worker logs would only interleave with the progress bars.
  const log = createLogger(base.logLevel === 'info' ? 'error' : base.logLevel);
  const workers = accountWorkers(runtime, {
    log,
    live: new AlibabaLiveClient({ ...config.live, endpoint, regionId: account.region, credential: staticCredential(accessKeyId, accessKeySecret) }),
  });
  const run = async () => {
    process.stdout.write(`livequeue demo: simulator at ${endpoint}, Redis at ${describeRedis(config.redis)}, prefix ${config.prefix}\n`);
    const work = demoWork(sim, bans, monitorStops);
    const quota = OPERATIONS.filter((op) => (work[op]?.length ?? 0) > 0).map((op) => `${op} ${qps[op]} QPS`).join(', ');
    process.stdout.write(`quota: ${quota} (simulator throttles above that in any rolling second)\n\n`);
    const totals = await enqueueWork(runtime, work, newBatchId);
    workers.start();
    await printReport(runtime, sim, await watchDrain(runtime, totals), totals, qps);
  };
  // Ctrl-C, SIGTERM or a closed pipe (`| head`) still removes the demo's keys, its worker and its private redis-server.
  const interrupted = stopRequested();
  try {
    const finished = run();
    const outcome = await Promise.race([finished.then(() => undefined), interrupted]);
    if (outcome !== undefined) {
      // The drain's last reads fail once the connections close below: that is the point.
      finished.catch(() => {});
      process.stderr.write(`livequeue demo: ${outcome}: stopping the worker, removing the demo's keys${redisTarget.private ? ' and its redis-server' : ''}\n`);
      process.exitCode = 130;
    }
  } finally {
    await workers.close();
    await runtime.close();
    await sim.stop();
    await deleteKeysWithPrefix(redis, config.prefix);
    redis.disconnect();
    await redisTarget.stop();
  }
}
