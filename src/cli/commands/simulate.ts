import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { untilStopSignal } from '../../signals.ts';
import { OPERATION_INFO, OPERATIONS, perOperation } from '../../catalog/operations.ts';
import { ownOptions } from '../context.ts';
import { UsageError } from '../errors.ts';

interface SimulateFlags {
  port: string;
  /** One QPS flag per operation of the catalog (--forbid-qps ...), by attribute name. */
  [qpsFlag: string]: string | undefined;
  latency: string;
  internalErrorRate: string;
  dropRate: string;
  dropAfterEffectRate: string;
  monitors: string;
  accessKeysFile?: string;
}

/** `{"<AccessKey id>": "<secret>", ...}`: several accounts' keys, each with its own quota. */
function readAccessKeys(path: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--access-keys-file ${path}: ${(error as Error).message}`);
  }
  const entries = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? Object.entries(parsed) : [];
  if (entries.length === 0 || !entries.every(([id, secret]) => id.length > 0 && typeof secret === 'string' && secret.length > 0)) {
    throw new UsageError(`--access-keys-file ${path}: must be a JSON object of AccessKey id -> secret, with at least one key`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/** The simulator's own option checks, as a one-line usage error naming the flag's value. */
function simulatorOrUsageError<T>(create: () => T): T {
  try {
    return create();
  } catch (error) {
    const issue = (error as { issues?: { path: PropertyKey[]; message: string }[] }).issues?.[0];
    if (!issue) throw error;
    throw new UsageError(`simulator options: ${issue.path.map(String).join('.')}: ${issue.message}`);
  }
}

function number(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${flag} must be a number from ${min} to ${max} (got "${value}")`);
  return n;
}

export function registerSimulate(program: Command): void {
  const simulate = program
    .command('simulate')
    .description('Start the built-in ApsaraVideo Live API simulator (signature checks, per-AccessKey QPS, blacklist, monitors, faults).')
    .option('--port <n>', 'port on 127.0.0.1 (0 picks a free one)', '8787');
  // The quota of each operation of the catalog, under the flag that sets the account's QPS elsewhere.
  const qpsOptions = perOperation((op) => new Option(`${OPERATION_INFO[op].qpsFlag} <n>`, `${op} QPS per AccessKey`).default(String(OPERATION_INFO[op].defaultQps)));
  for (const op of OPERATIONS) simulate.addOption(qpsOptions[op]);
  simulate
    .option('--latency <min-max>', 'backend latency in ms, e.g. 10-30', '10-30')
    .option('--internal-error-rate <p>', 'share of calls answered InternalError (0..1)', '0')
    .option('--drop-rate <p>', 'share of connections dropped before the effect (0..1)', '0')
    .option('--drop-after-effect-rate <p>', 'share of calls applied whose answer is lost (0..1)', '0')
    .option('--monitors <n>', 'running monitoring sessions to create at start (ids printed)', '0')
    .option('--access-keys-file <path>', 'JSON {"<id>": "<secret>"} of several AccessKeys (several accounts), instead of the environment\'s one')
    .addHelpText('after', `
The simulator accepts the AccessKey in ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET
(the same variables the workers sign with). Control it over HTTP under /__sim/ (stats, monitors, faults, rules).

Examples:
  $ ALIBABA_CLOUD_ACCESS_KEY_ID=sim ALIBABA_CLOUD_ACCESS_KEY_SECRET=sim-secret livequeue simulate --port 8787
  $ curl -X POST localhost:8787/__sim/faults -d '{"outage":{"durationMs":30000}}'`)
    .action(async (_flags: SimulateFlags, command: Command) => {
      // The program knows the same flags (the account's QPS): what the user wrote is the simulator's.
      const flags = ownOptions<SimulateFlags>(command);
      const [min, max] = flags.latency.split('-').map((v) => number('--latency', v, 0, 60_000));
      const id = process.env.ALIBABA_CLOUD_ACCESS_KEY_ID;
      const secret = process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
      const { LiveApiSimulator } = await import('../../sim/index.ts');
      const port = number('--port', flags.port, 0, 65_535);
      const sim = simulatorOrUsageError(() => new LiveApiSimulator({
        port,
        accessKeys: flags.accessKeysFile ? readAccessKeys(flags.accessKeysFile) : id && secret ? { [id]: secret } : undefined,
        qps: perOperation((op) => number(OPERATION_INFO[op].qpsFlag, flags[qpsOptions[op].attributeName()]!, 1, 100_000)),
        latencyMs: { min: min ?? 0, max: max ?? min ?? 0 },
        faults: {
          internalErrorRate: number('--internal-error-rate', flags.internalErrorRate, 0, 1),
          dropConnectionRate: number('--drop-rate', flags.dropRate, 0, 1),
          dropAfterEffectRate: number('--drop-after-effect-rate', flags.dropAfterEffectRate, 0, 1),
        },
      }));
      const url = await sim.start().catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE') throw new UsageError(`--port ${port} is in use on 127.0.0.1; pick another, or 0 for a free one`);
        throw error;
      });
      const monitors = sim.createMonitors(number('--monitors', flags.monitors, 0, 1_000_000));
      process.stdout.write(`simulator listening on ${url}\n`);
      if (!(id && secret) && !flags.accessKeysFile) process.stdout.write('no ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET set: accepting the simulator\'s built-in test AccessKey only\n');
      for (const monitorId of monitors) process.stdout.write(`${monitorId}\n`);
      await untilStopSignal();
      await sim.stop();
    });
}
