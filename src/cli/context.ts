import type { Command } from 'commander';
import type { Config, ConfigOverrides } from '../config.ts';
import { OPERATION_INFO, OPERATIONS } from '../catalog/operations.ts';
import { UsageError } from './errors.ts';

let configModule: typeof import('../config.ts') | undefined;

/**
 * Loads the configuration parser (zod and its schemas). The command does it
 * before any action runs (a preAction hook), so that `configFor` stays
 * synchronous and `--help` or a usage error never pays for it.
 */
export async function loadConfigModule(): Promise<void> {
  configModule ??= await import('../config.ts');
}

/** Flags every command accepts; each overrides the environment variable of the same meaning. */
export const CONFIG_FLAGS: readonly { flag: string; variable: keyof ConfigOverrides; help: string }[] = [
  { flag: '--redis-url <url>', variable: 'REDIS_URL', help: 'Redis URL (REDIS_URL), e.g. redis://127.0.0.1:6379' },
  { flag: '--prefix <prefix>', variable: 'QUEUE_PREFIX', help: 'key prefix for every Redis key (QUEUE_PREFIX); {livequeue} for Redis Cluster' },
  { flag: '--account <name>', variable: 'LIVE_ACCOUNT', help: 'the account to act on (LIVE_ACCOUNT); `worker` takes it more than once' },
  { flag: '--endpoint <endpoint>', variable: 'LIVE_ENDPOINT', help: 'Live API endpoint (LIVE_ENDPOINT), e.g. http://127.0.0.1:8787' },
  { flag: '--live-region <region>', variable: 'LIVE_REGION', help: 'region id sent with every call (LIVE_REGION)' },
  // --forbid-qps, --stop-monitor-qps, --resume-qps: one per operation of the catalog.
  ...OPERATIONS.map((op) => {
    const { qpsFlag, qpsVariable, does } = OPERATION_INFO[op];
    return { flag: `${qpsFlag} <n>`, variable: qpsVariable, help: `${op} calls per second for the account; ${does} (${qpsVariable})` };
  }),
  { flag: '--log-level <level>', variable: 'LOG_LEVEL', help: 'fatal|error|warn|info|debug|trace|silent (LOG_LEVEL)' },
];

function optionKey(flag: string): string {
  const long = flag.split(' ')[0]!.replace(/^--/, '');
  return long.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addConfigFlags(command: Command): Command {
  for (const { flag, help } of CONFIG_FLAGS) {
    // Repeatable: a worker may serve several named accounts.
    if (flag.startsWith('--account ')) command.option(flag, help, collect);
    else command.option(flag, help);
  }
  return command;
}

/** The accounts named with --account (a worker serves them all), or undefined for "every account". */
export function namedAccounts(command: Command): string[] | undefined {
  const named = (command.optsWithGlobals() as { account?: string[] }).account;
  return named && named.length > 0 ? named : undefined;
}

/** Parses the configuration once for a command: environment, then its flags. */
export function configFor(command: Command, extra: ConfigOverrides = {}, manyAccounts = false): Config {
  if (!configModule) throw new Error('configFor: the configuration parser is not loaded; call loadConfigModule() before the action');
  const opts = command.optsWithGlobals() as Record<string, string | undefined>;
  const overrides: ConfigOverrides = { ...extra };
  for (const { flag, variable } of CONFIG_FLAGS) {
    const raw = (opts as Record<string, string | string[] | undefined>)[optionKey(flag)];
    if (Array.isArray(raw) && raw.length > 1 && !manyAccounts) throw new UsageError(`--account: this command acts on one account (got ${raw.join(', ')})`);
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value !== undefined) overrides[variable] = value;
  }
  return configModule.loadConfig(process.env, overrides);
}

/**
 * A command's own option values, for a command whose options share a name
 * with a flag of the program (`simulate --forbid-qps` is the simulator's
 * quota, the program's --forbid-qps the account's). Commander hands an option
 * the program knows to the program wherever it is written, so the command's
 * own would keep its default; here a value the user gave under that name
 * counts as the command's, wherever it stands on the command line.
 */
export function ownOptions<T>(command: Command): T {
  const opts: Record<string, unknown> = { ...command.opts() };
  for (const option of command.options) {
    const key = option.attributeName();
    if (command.getOptionValueSource(key) === 'cli') continue;
    for (let ancestor = command.parent; ancestor; ancestor = ancestor.parent) {
      const same = ancestor.options.find((o) => o.long === option.long);
      if (same && ancestor.getOptionValueSource(same.attributeName()) === 'cli') {
        opts[key] = ancestor.getOptionValue(same.attributeName());
        break;
      }
    }
  }
  return opts as T;
}
