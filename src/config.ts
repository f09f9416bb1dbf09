import { z } from 'zod';
import { redactUrl } from './redact.ts';
import type { RedisSettings } from './redis.ts';
import type { HoldSettings } from './holds/holds.ts';
import { readAccountsFile } from './account/accounts-file.ts';
import { ACCOUNT_NAME, ACCOUNT_NAME_RULE, accountPrefix, hashTagOf, REGION, unknownAccountMessage } from './account/rules.ts';
import { OPERATION_INFO, OPERATIONS, perOperation, type Operation, type QpsVariable } from './catalog/operations.ts';
import { LivequeueError } from './errors.ts';

/**
 * All configuration, parsed once at start-up from the environment (and CLI
 * flags, which override it) into one typed object passed down from there.
 * Nothing else reads process.env. Credentials are deliberately absent: the
 * credentials library reads them from its own default chain, so they never
 * pass through our objects, logs or Redis.
 */

const positiveInt = (name: string) =>
  z.coerce.number({ error: `${name} must be a number` }).int(`${name} must be a whole number`).positive(`${name} must be greater than 0`);
const positiveNumber = (name: string) =>
  z.coerce.number({ error: `${name} must be a number` }).refine((n) => Number.isFinite(n) && n > 0, `${name} must be a number greater than 0`);
const nonNegativeInt = (name: string) =>
  z.coerce.number({ error: `${name} must be a number` }).int(`${name} must be a whole number`).min(0, `${name} must be 0 or more`);

/** `host:port,host:port`: the seed nodes of a cluster, or the sentinels. */
const hostPorts = (name: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9.-]+:\d{1,5}(,[A-Za-z0-9.-]+:\d{1,5})*$/, `${name} must be host:port pairs separated by commas`)
    .transform((value) => value.split(',').map((pair) => {
      const at = pair.lastIndexOf(':');
      return { host: pair.slice(0, at), port: Number(pair.slice(at + 1)) };
    }));

/** Each operation's QPS variable, with the default its API page gives. */
const qpsSetting = (operation: Operation) => positiveNumber(OPERATION_INFO[operation].qpsVariable).default(OPERATION_INFO[operation].defaultQps);
const qpsVariables = Object.fromEntries(OPERATIONS.map((op) => [OPERATION_INFO[op].qpsVariable, qpsSetting(op)])) as Record<QpsVariable, ReturnType<typeof qpsSetting>>;

const envSchema = z.object({
  REDIS_URL: z
    .string()
    .refine(isRedisUrl, 'REDIS_URL must be a redis:// or rediss:// URL with a host (percent-encode any / @ : in the password)')
    .default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER_NODES: hostPorts('REDIS_CLUSTER_NODES').optional(),
  REDIS_SENTINELS: hostPorts('REDIS_SENTINELS').optional(),
  REDIS_SENTINEL_MASTER: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'REDIS_SENTINEL_MASTER must be the master\'s name as the sentinels know it').optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_TLS: z.enum(['0', '1', 'true', 'false'], { error: 'REDIS_TLS must be 1 or 0' }).optional(),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_{}.-]+$/, 'QUEUE_PREFIX may contain only letters, digits, _ . - { }')
    .default('livequeue'),
  LIVE_ACCOUNT: z
    .string()
    .regex(ACCOUNT_NAME, `LIVE_ACCOUNT must be ${ACCOUNT_NAME_RULE}`)
    .default('default'),
  LIVE_ENDPOINT: z
    .string()
    .regex(/^(https?:\/\/)?[A-Za-z0-9.-]+(:\d+)?\/?$/, 'LIVE_ENDPOINT must be a host name or http(s)://host:port')
    .default('live.aliyuncs.com'),
  LIVE_REGION: z.string().regex(REGION, 'LIVE_REGION must be a region id such as cn-shanghai').default('cn-shanghai'),
  LIVE_TIMEOUT_MS: positiveInt('LIVE_TIMEOUT_MS').default(10_000),
  // FORBID_QPS, STOP_MONITOR_QPS, RESUME_QPS: one per operation of the catalog.
  ...qpsVariables,
  PACING_MARGIN_MS: nonNegativeInt('PACING_MARGIN_MS').max(500, 'PACING_MARGIN_MS must be at most 500').default(15),
  WORKER_CONCURRENCY: positiveInt('WORKER_CONCURRENCY').max(1000, 'WORKER_CONCURRENCY must be at most 1000').default(16),
  RETRY_ATTEMPTS: positiveInt('RETRY_ATTEMPTS').max(1000, 'RETRY_ATTEMPTS must be at most 1000').default(22),
  RETRY_BASE_DELAY_MS: positiveInt('RETRY_BASE_DELAY_MS').default(1_000),
  RETRY_MAX_DELAY_MS: positiveInt('RETRY_MAX_DELAY_MS').default(300_000),
  SHUTDOWN_TIMEOUT_MS: positiveInt('SHUTDOWN_TIMEOUT_MS').default(30_000),
  JOB_LOCK_MS: positiveInt('JOB_LOCK_MS').min(1000, 'JOB_LOCK_MS must be at least 1000').default(30_000),
  BLACKLIST_RECHECK_MS: positiveInt('BLACKLIST_RECHECK_MS').default(300_000),
  HOLD_TRIP_AFTER: positiveInt('HOLD_TRIP_AFTER').min(2, 'HOLD_TRIP_AFTER must be at least 2').max(1000, 'HOLD_TRIP_AFTER must be at most 1000').default(8),
  HOLD_PROBE_MS: positiveInt('HOLD_PROBE_MS').min(100, 'HOLD_PROBE_MS must be at least 100').default(2_000),
  HOLD_PROBE_MAX_MS: positiveInt('HOLD_PROBE_MAX_MS').max(30_000, 'HOLD_PROBE_MAX_MS must be at most 30000').default(5_000),
  OUTCOME_TTL_SECONDS: positiveInt('OUTCOME_TTL_SECONDS').default(86_400),
  LIVEQUEUE_API_TOKEN: z
    .string()
    .min(16, 'LIVEQUEUE_API_TOKEN must be at least 16 characters')
    // A token with whitespace could never be sent back intact in an Authorization header.
    .regex(/^\S+$/, 'LIVEQUEUE_API_TOKEN must not contain whitespace')
    .optional(),
  HTTP_HOST: z.string().min(1).optional(),
  HTTP_PORT: nonNegativeInt('HTTP_PORT').max(65_535, 'HTTP_PORT must be at most 65535').default(8080),
  HTTP_BODY_LIMIT_BYTES: positiveInt('HTTP_BODY_LIMIT_BYTES').default(1_048_576),
  METRICS_PORT: nonNegativeInt('METRICS_PORT').max(65_535, 'METRICS_PORT must be at most 65535').default(9464),
  LIVEQUEUE_ACCOUNTS_FILE: z.string().min(1).optional(),
  LIVE_DOMAINS: z
    .string()
    .regex(/^[A-Za-z0-9.-]+(,[A-Za-z0-9.-]+)*$/, 'LIVE_DOMAINS must be a comma-separated list of domain names')
    .optional(),
  BLACKLIST_REFRESH_MS: positiveInt('BLACKLIST_REFRESH_MS').min(10_000, 'BLACKLIST_REFRESH_MS must be at least 10000').default(300_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent' }).default('info'),
});

/** A URL ioredis can connect to: scheme, a host, a numeric port if any (parsed, not pattern-matched). */
function isRedisUrl(value: string): boolean {
  if (!/^rediss?:\/\/\S+$/.test(value)) return false;
  try {
    const url = new URL(value);
    return url.hostname !== '' && (url.port === '' || /^\d+$/.test(url.port));
  } catch {
    return false;
  }
}

export type EnvVariable = keyof z.input<typeof envSchema>;
export const ENV_VARIABLES = Object.keys(envSchema.shape) as EnvVariable[];

export interface RetrySchedule {
  /** Total tries of one job, the first call included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** One Alibaba Cloud account this deployment drives: its quota, region and credentials. */
export interface AccountConfig {
  name: string;
  /**
   * Profile of the Alibaba Cloud credentials file (ALIBABA_CLOUD_CREDENTIALS_FILE,
   * or ~/.alibabacloud/credentials); absent: the credentials library's default chain.
   */
  profile?: string;
  qps: Record<Operation, number>;
  region: string;
  /** Domains whose blacklist is read for headroom, besides those the account bans in. */
  domains: string[];
}

export interface Config {
  redis: RedisSettings;
  prefix: string;
  /** The account a one-account command acts on: LIVE_ACCOUNT / --account, else the first account. */
  account: string;
  /** True when LIVE_ACCOUNT / --account named the account (status then shows only it). */
  accountNamed: boolean;
  /** Every account of the deployment: the accounts file's, or the one the environment describes. */
  accounts: AccountConfig[];
  /** Endpoint and timeout shared by every account; each account has its own region. */
  live: { endpoint: string; timeoutMs: number };
  pacingMarginMs: number;
  concurrency: number;
  retry: RetrySchedule;
  shutdownTimeoutMs: number;
  /** A job whose worker stops renewing its lock this long is taken over by another worker. */
  jobLockMs: number;
  /** How long a paused blacklist waits before trying one ban again. */
  blacklistRecheckMs: number;
  /** How often a worker reads the blacklist's size (DescribeLiveStreamsBlockList). */
  blacklistRefreshMs: number;
  /** When a systemic hold trips and how it probes (see queue/holds.ts). */
  holds: HoldSettings;
  /** How long a finished job's outcome stays queryable. */
  outcomeTtlSeconds: number;
  http: {
    /** Bearer token for the HTTP API; without one the server binds to 127.0.0.1 only. */
    apiToken?: string;
    host: string;
    port: number;
    bodyLimitBytes: number;
  };
  /** Port of the worker's /metrics endpoint; 0 turns it off. */
  metricsPort: number;
  logLevel: z.output<typeof envSchema>['LOG_LEVEL'];
}

export class ConfigError extends LivequeueError {
  constructor(message: string) {
    super('config', message);
  }
}

/** Overrides use the variable names too, so a flag and its variable share one rule and one message. */
export type ConfigOverrides = Partial<Record<EnvVariable, string | number | undefined>>;

export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: ConfigOverrides = {}): Config {
  const raw: Record<string, unknown> = {};
  for (const name of ENV_VARIABLES) {
    const value = overrides[name] ?? env[name];
    // An empty variable means "not set", as shells and compose files use it.
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    // Secrets are never echoed back, not even in an error.
    const got = name === 'LIVEQUEUE_API_TOKEN' || name === 'REDIS_PASSWORD' ? '' : ` (got ${JSON.stringify(name === 'REDIS_URL' ? redactUrl(String(raw[name])) : raw[name])})`;
    throw new ConfigError(`${issue.message.startsWith(name) ? '' : `${name}: `}${issue.message}${got}`);
  }
  const e = parsed.data;
  const domains = e.LIVE_DOMAINS ? e.LIVE_DOMAINS.split(',').map((d) => d.toLowerCase()) : [];
  const fromFile = e.LIVEQUEUE_ACCOUNTS_FILE ? readAccountsFile(e.LIVEQUEUE_ACCOUNTS_FILE, { region: e.LIVE_REGION, domains }) : undefined;
  if (typeof fromFile === 'string') throw new ConfigError(`LIVEQUEUE_ACCOUNTS_FILE ${e.LIVEQUEUE_ACCOUNTS_FILE}: ${fromFile}`);
  const accounts = fromFile ?? [{ name: e.LIVE_ACCOUNT, qps: perOperation((op) => e[OPERATION_INFO[op].qpsVariable]), region: e.LIVE_REGION, domains }];
  const named = raw.LIVE_ACCOUNT === undefined ? undefined : e.LIVE_ACCOUNT;
  if (named !== undefined && !accounts.some((a) => a.name === named)) {
    throw new ConfigError(`${unknownAccountMessage(named, accounts)}${e.LIVEQUEUE_ACCOUNTS_FILE ? ` (${e.LIVEQUEUE_ACCOUNTS_FILE})` : ''}`);
  }
  if (e.HTTP_HOST && e.HTTP_HOST !== '127.0.0.1' && e.HTTP_HOST !== 'localhost' && e.HTTP_HOST !== '::1' && !e.LIVEQUEUE_API_TOKEN) {
    throw new ConfigError(`HTTP_HOST ${e.HTTP_HOST} needs LIVEQUEUE_API_TOKEN: without a token the HTTP API listens on 127.0.0.1 only`);
  }
  if (e.HOLD_PROBE_MAX_MS < e.HOLD_PROBE_MS) {
    throw new ConfigError(`HOLD_PROBE_MAX_MS must be at least HOLD_PROBE_MS (got ${e.HOLD_PROBE_MAX_MS} < ${e.HOLD_PROBE_MS})`);
  }
  if (e.RETRY_MAX_DELAY_MS < e.RETRY_BASE_DELAY_MS) {
    throw new ConfigError(`RETRY_MAX_DELAY_MS must be at least RETRY_BASE_DELAY_MS (got ${e.RETRY_MAX_DELAY_MS} < ${e.RETRY_BASE_DELAY_MS})`);
  }
  const redis = redisSettings(e, raw.REDIS_URL !== undefined);
  if (redis.mode === 'cluster') checkClusterSlots(e.QUEUE_PREFIX, accounts);
  return {
    redis,
    prefix: e.QUEUE_PREFIX,
    account: named ?? accounts[0]!.name,
    accountNamed: named !== undefined,
    accounts,
    live: { endpoint: e.LIVE_ENDPOINT, timeoutMs: e.LIVE_TIMEOUT_MS },
    pacingMarginMs: e.PACING_MARGIN_MS,
    concurrency: e.WORKER_CONCURRENCY,
    retry: { attempts: e.RETRY_ATTEMPTS, baseDelayMs: e.RETRY_BASE_DELAY_MS, maxDelayMs: e.RETRY_MAX_DELAY_MS },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    jobLockMs: e.JOB_LOCK_MS,
    blacklistRecheckMs: e.BLACKLIST_RECHECK_MS,
    blacklistRefreshMs: e.BLACKLIST_REFRESH_MS,
    holds: {
      tripAfter: e.HOLD_TRIP_AFTER,
      // Three jobs at least, fewer only if the streak itself is shorter.
      tripDistinctJobs: Math.min(3, e.HOLD_TRIP_AFTER),
      probeMs: e.HOLD_PROBE_MS,
      probeMaxMs: e.HOLD_PROBE_MAX_MS,
      // A probe waits for its slot and then for the answer (LIVE_TIMEOUT_MS).
      probeLeaseMs: e.LIVE_TIMEOUT_MS + 5_000,
      // A held process refreshes its record at every probe (at most HOLD_PROBE_MAX_MS apart).
      hostFaultStaleMs: 3 * e.HOLD_PROBE_MAX_MS + e.LIVE_TIMEOUT_MS,
      // Two probe intervals: long enough for a healthy process to show itself at any useful rate.
      hostFaultGraceMs: 2 * e.HOLD_PROBE_MS,
    },
    outcomeTtlSeconds: e.OUTCOME_TTL_SECONDS,
    http: {
      apiToken: e.LIVEQUEUE_API_TOKEN,
      host: e.HTTP_HOST ?? (e.LIVEQUEUE_API_TOKEN ? '0.0.0.0' : '127.0.0.1'),
      port: e.HTTP_PORT,
      bodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES,
    },
    metricsPort: e.METRICS_PORT,
    logLevel: e.LOG_LEVEL,
  };
}

/** One of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS (with REDIS_SENTINEL_MASTER). */
function redisSettings(e: z.output<typeof envSchema>, urlSet: boolean): RedisSettings {
  const common = { ...(e.REDIS_PASSWORD ? { password: e.REDIS_PASSWORD } : {}), tls: e.REDIS_TLS === '1' || e.REDIS_TLS === 'true' || e.REDIS_URL.startsWith('rediss://') };
  const chosen = [urlSet && 'REDIS_URL', e.REDIS_CLUSTER_NODES && 'REDIS_CLUSTER_NODES', e.REDIS_SENTINELS && 'REDIS_SENTINELS'].filter(Boolean);
  if (chosen.length > 1) throw new ConfigError(`set one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS (got ${chosen.join(' and ')})`);
  if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_MASTER) throw new ConfigError('REDIS_SENTINELS needs REDIS_SENTINEL_MASTER: the name of the master the sentinels watch');
  if (e.REDIS_SENTINEL_MASTER && !e.REDIS_SENTINELS) throw new ConfigError('REDIS_SENTINEL_MASTER goes with REDIS_SENTINELS (host:port of the sentinels)');
  if (e.REDIS_CLUSTER_NODES) return { mode: 'cluster', nodes: e.REDIS_CLUSTER_NODES, ...common };
  if (e.REDIS_SENTINELS) return { mode: 'sentinel', sentinels: e.REDIS_SENTINELS, masterName: e.REDIS_SENTINEL_MASTER!, ...common };
  return { mode: 'single', url: e.REDIS_URL, ...common };
}

/**
 * On a cluster, the scripts and transactions of one account (BullMQ's and
 * ours) touch several keys at once, so all of an account's keys must share a
 * slot: its prefix needs a hash tag. Refused here rather than met as CROSSSLOT
 * on the first job.
 */
function checkClusterSlots(prefix: string, accounts: readonly AccountConfig[]): void {
  for (const account of accounts) {
    if (hashTagOf(accountPrefix(prefix, account.name)) !== undefined) continue;
    throw new ConfigError(
      `on Redis Cluster every account's keys need a hash tag, and account "${account.name}" under QUEUE_PREFIX "${prefix}" has none: ` +
        `set QUEUE_PREFIX={${prefix}}, or name the account (LIVE_ACCOUNT=main keeps its keys under ${prefix}:{main})`,
    );
  }
  const tags = new Set(accounts.map((a) => hashTagOf(accountPrefix(prefix, a.name))));
  if (accounts.length > 1 && tags.size === 1) {
    throw new ConfigError(`QUEUE_PREFIX "${prefix}" carries a hash tag, so all ${accounts.length} accounts would share one cluster slot (one shard); drop the braces from QUEUE_PREFIX: each account then gets its own tag`);
  }
}
