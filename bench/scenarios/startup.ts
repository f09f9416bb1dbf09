import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResultRow } from '../lib/result.ts';
import { percentile } from '../lib/measure.ts';
import { start } from '../lib/procs.ts';
import { REDIS_URL } from '../lib/setup.ts';
import { loadConfig } from '../../src/config.ts';
import { deleteKeysWithPrefix, producerConnection } from '../../src/redis.ts';

const RUNS = 10;

/**
 * How the baseline starts the command. By default the way `npx livequeue`
 * ran before the package was compiled: the TypeScript sources through tsx's
 * loader. STARTUP_BASELINE_CLI names another `livequeue` entry point to
 * compare with instead, e.g. the bin of an older checkout (its own
 * node_modules beside it), and STARTUP_BASELINE_LABEL says what it is in the table.
 */
function baselineArgs(): { args: string[]; label: string } {
  const other = process.env.STARTUP_BASELINE_CLI;
  if (other) return { args: [other], label: `baseline column: ${process.env.STARTUP_BASELINE_LABEL ?? other}` };
  return { args: ['src/cli/main.ts'], label: 'baseline column: the TypeScript sources through tsx, as `npx livequeue` ran before the package was compiled' };
}

/** Wall time of one run of the command, from spawn to exit, in ms; a run that fails stops the scenario. */
async function timeOnce(args: string[], env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const proc = start(args, env);
  const code = await proc.exited;
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`startup: \`${args.join(' ')}\` exited ${code}:\n${proc.output()}`);
  return ms;
}

/** Median of RUNS runs after one run that is not counted (it warms the file cache, and Node's compile cache where the command enables it). */
async function median(args: () => string[], env: Record<string, string>): Promise<number> {
  await timeOnce(args(), env);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await timeOnce(args(), env));
  return percentile(times, 50);
}

/**
 * The time from starting `livequeue` to its exit, for a command that loads
 * nothing but its help, one that reads the queues of a live Redis, and one
 * that enqueues one line: the cost every script, cron job and operator pays
 * on each call, before any work of its own.
 */
export async function startupScenario(): Promise<ResultRow[]> {
  const prefix = `lqbench-startup-${randomBytes(3).toString('hex')}`;
  const env = { REDIS_URL, QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' };
  const dir = mkdtempSync(join(tmpdir(), 'lq-startup-'));
  let line = 0;
  /** A one-line file with a stream of its own for each run, so every run enqueues a job (none is a duplicate). */
  const oneBan = () => {
    const file = join(dir, `ban-${line}.jsonl`);
    writeFileSync(file, `${JSON.stringify({ DomainName: 'demo.aliyundoc.com', AppName: 'bench', StreamName: `startup-${line++}` })}\n`);
    return file;
  };
  const baseline = baselineArgs();
  const commands: { measure: string; args: () => string[]; target: string; limit?: number }[] = [
    { measure: '`livequeue --help`', args: () => ['--help'], target: '<= 150', limit: 150 },
    { measure: '`livequeue status` against a live Redis', args: () => ['status'], target: '<= 300', limit: 300 },
    { measure: '`livequeue enqueue forbid` of one line', args: () => ['enqueue', 'forbid', '--file', oneBan()], target: 'report' },
  ];
  const redis = producerConnection(loadConfig({ REDIS_URL }).redis);
  try {
    const rows: ResultRow[] = [];
    for (const [i, command] of commands.entries()) {
      const before = await median(() => [...baseline.args, ...command.args()], env);
      const after = await median(() => command.args(), env);
      rows.push({
        scenario: `command start-up to exit, median of ${RUNS} runs`,
        measure: command.measure,
        baseline: before,
        livequeue: after,
        unit: 'ms',
        target: command.target,
        met: command.limit === undefined || after <= command.limit,
        ...(i === 0 ? { note: baseline.label } : {}),
      });
    }
    return rows;
  } finally {
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}
