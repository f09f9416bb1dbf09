import type { Command } from 'commander';
import { loadConfig, type Config, type ConfigOverrides } from '../config.ts';
import { UsageError } from './errors.ts';

/** Flags every command accepts; each overrides the environment variable of the same meaning. */
export const CONFIG_FLAGS: readonly { flag: string; variable: keyof ConfigOverrides; help: string }[] = [
  { flag: '--redis-url <url>', variable: 'REDIS_URL', help: 'Redis URL (REDIS_URL), e.g. redis://127.0.0.1:6379' },
  { flag: '--prefix <prefix>', variable: 'QUEUE_PREFIX', help: 'key prefix for every Redis key (QUEUE_PREFIX); {livequeue} for Redis Cluster' },
  { flag: '--account <name>', variable: 'LIVE_ACCOUNT', help: 'the account to act on (LIVE_ACCOUNT); `worker` takes it more than once' },
  { flag: '--endpoint <endpoint>', variable: 'LIVE_ENDPOINT', help: 'Live API endpoint (LIVE_ENDPOINT), e.g. http://127.0.0.1:8787' },
  { flag: '--live-region <region>', variable: 'LIVE_REGION', help: 'region id sent with every call (LIVE_REGION)' },
  { flag: '--forbid-qps <n>', variable: 'FORBID_QPS', help: 'ForbidLiveStream calls per second for the account (FORBID_QPS)' },
  { flag: '--stop-monitor-qps <n>', variable: 'STOP_MONITOR_QPS', help: 'StopLiveStreamMonitor calls per second (STOP_MONITOR_QPS)' },
  { flag: '--resume-qps <n>', variable: 'RESUME_QPS', help: 'ResumeLiveStream calls per second, for batch undo (RESUME_QPS)' },
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
  const opts = command.optsWithGlobals() as Record<string, string | undefined>;
  const overrides: ConfigOverrides = { ...extra };
  for (const { flag, variable } of CONFIG_FLAGS) {
    const raw = (opts as Record<string, string | string[] | undefined>)[optionKey(flag)];
    if (Array.isArray(raw) && raw.length > 1 && !manyAccounts) throw new UsageError(`--account: this command acts on one account (got ${raw.join(', ')})`);
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value !== undefined) overrides[variable] = value;
  }
  return loadConfig(process.env, overrides);
}
