import { redactUrl } from './redact.ts';
import { readAccountsFile } from './account/accounts-file.ts';
import { accountPrefix, hashTagOf, unknownAccountMessage } from './account/rules.ts';
import { OPERATION_INFO, perOperation } from './catalog/operations.ts';
import { LivequeueError } from './errors.ts';
import { ENV_VARIABLES, envSchema, type Env, type EnvVariable } from './config/env.ts';
import type { AccountConfig, Config, RedisSettings } from './config/settings.ts';
import { readWebhooksFile, type WebhookEndpoint } from './config/webhooks-file.ts';
import { API_SCOPES, DEFAULT_TOKEN_NAME, readTokensFile, sha256Of, type ApiToken } from './config/tokens-file.ts';

export type { AccountConfig, ApiScope, ApiToken, Config, HoldSettings, HostPort, LogLevel, RedisSettings, RetrySchedule } from './config/settings.ts';
export type { WebhookEndpoint, WebhookEvent } from './config/webhooks-file.ts';
export { ENV_VARIABLES, type EnvVariable } from './config/env.ts';

/**
 * All configuration, parsed once at start-up from the environment (and CLI
 * flags, which override it) into one typed object passed down from there.
 * Nothing else reads process.env. Credentials are deliberately absent: the
 * credentials library reads them from its own default chain, so they never
 * pass through our objects, logs or Redis.
 */

export class ConfigError extends LivequeueError {
  constructor(message: string) {
    super('config', message);
  }
}

/** Overrides use the variable names too, so a flag and its variable share one rule and one message. */
export type ConfigOverrides = Partial<Record<EnvVariable, string | number | undefined>>;

export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: ConfigOverrides = {}): Config {
  const raw = setVariables(env, overrides);
  const e = parseEnv(raw);
  const accounts = accountsOf(e);
  const named = raw.LIVE_ACCOUNT === undefined ? undefined : e.LIVE_ACCOUNT;
  if (named !== undefined && !accounts.some((a) => a.name === named)) {
    throw new ConfigError(`${unknownAccountMessage(named, accounts)}${e.LIVEQUEUE_ACCOUNTS_FILE ? ` (${e.LIVEQUEUE_ACCOUNTS_FILE})` : ''}`);
  }
  const tokens = apiTokens(e);
  checkCombinations(e, tokens);
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
    audit: { retentionMs: Math.round(e.AUDIT_RETENTION_DAYS * 86_400_000), maxEntries: e.AUDIT_MAX_ENTRIES, outcomes: e.AUDIT_OUTCOMES === 'on' },
    http: {
      apiToken: e.LIVEQUEUE_API_TOKEN,
      tokens,
      host: e.HTTP_HOST ?? (tokens.length > 0 ? '0.0.0.0' : '127.0.0.1'),
      port: e.HTTP_PORT,
      bodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES,
    },
    webhooks: { endpoints: webhookEndpoints(e, env), retryForMs: e.WEBHOOK_RETRY_FOR_MS },
    metricsPort: e.METRICS_PORT,
    logLevel: e.LOG_LEVEL,
  };
}

/** The variables set, flags first; an empty variable means "not set", as shells and compose files use it. */
function setVariables(env: Record<string, string | undefined>, overrides: ConfigOverrides): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const name of ENV_VARIABLES) {
    const value = overrides[name] ?? env[name];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  return raw;
}

/** Every variable against its rule; the first one broken is the error, naming the variable. */
function parseEnv(raw: Record<string, unknown>): Env {
  const parsed = envSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const name = String(issue.path[0]);
  // Secrets are never echoed back, not even in an error.
  const got = name === 'LIVEQUEUE_API_TOKEN' || name === 'REDIS_PASSWORD' ? '' : ` (got ${JSON.stringify(name === 'REDIS_URL' ? redactUrl(String(raw[name])) : raw[name])})`;
  throw new ConfigError(`${issue.message.startsWith(name) ? '' : `${name}: `}${issue.message}${got}`);
}

/** The accounts file's accounts, or the one account the environment describes. */
function accountsOf(e: Env): AccountConfig[] {
  const domains = e.LIVE_DOMAINS ? e.LIVE_DOMAINS.split(',').map((d) => d.toLowerCase()) : [];
  const fromFile = e.LIVEQUEUE_ACCOUNTS_FILE ? readAccountsFile(e.LIVEQUEUE_ACCOUNTS_FILE, { region: e.LIVE_REGION, domains }) : undefined;
  if (typeof fromFile === 'string') throw new ConfigError(`LIVEQUEUE_ACCOUNTS_FILE ${e.LIVEQUEUE_ACCOUNTS_FILE}: ${fromFile}`);
  return fromFile ?? [{ name: e.LIVE_ACCOUNT, qps: perOperation((op) => e[OPERATION_INFO[op].qpsVariable]), region: e.LIVE_REGION, domains }];
}

/** LIVEQUEUE_API_TOKEN as "default" with every scope, then the tokens of LIVEQUEUE_API_TOKENS_FILE. */
function apiTokens(e: Env): ApiToken[] {
  const tokens: ApiToken[] = e.LIVEQUEUE_API_TOKEN ? [{ name: DEFAULT_TOKEN_NAME, sha256: sha256Of(e.LIVEQUEUE_API_TOKEN), scopes: API_SCOPES }] : [];
  if (!e.LIVEQUEUE_API_TOKENS_FILE) return tokens;
  const fromFile = readTokensFile(e.LIVEQUEUE_API_TOKENS_FILE, tokens);
  if (typeof fromFile === 'string') throw new ConfigError(`LIVEQUEUE_API_TOKENS_FILE ${e.LIVEQUEUE_API_TOKENS_FILE}: ${fromFile}`);
  return [...tokens, ...fromFile];
}

/** LIVEQUEUE_WEBHOOKS_FILE's endpoints, each with its secret from the variable it names (never echoed back). */
function webhookEndpoints(e: Env, env: Record<string, string | undefined>): WebhookEndpoint[] {
  if (!e.LIVEQUEUE_WEBHOOKS_FILE) return [];
  const allowLoopback = e.WEBHOOKS_ALLOW_HTTP_LOOPBACK === '1' || e.WEBHOOKS_ALLOW_HTTP_LOOPBACK === 'true';
  const endpoints = readWebhooksFile(e.LIVEQUEUE_WEBHOOKS_FILE, env, allowLoopback);
  if (typeof endpoints === 'string') throw new ConfigError(`LIVEQUEUE_WEBHOOKS_FILE ${e.LIVEQUEUE_WEBHOOKS_FILE}: ${endpoints}`);
  return endpoints;
}

/** Rules between variables, which no single variable's rule can say. */
function checkCombinations(e: Env, tokens: readonly ApiToken[]): void {
  if (e.HTTP_HOST && e.HTTP_HOST !== '127.0.0.1' && e.HTTP_HOST !== 'localhost' && e.HTTP_HOST !== '::1' && tokens.length === 0) {
    throw new ConfigError(`HTTP_HOST ${e.HTTP_HOST} needs LIVEQUEUE_API_TOKEN or LIVEQUEUE_API_TOKENS_FILE: without a token the HTTP API listens on 127.0.0.1 only`);
  }
  if (e.HOLD_PROBE_MAX_MS < e.HOLD_PROBE_MS) {
    throw new ConfigError(`HOLD_PROBE_MAX_MS must be at least HOLD_PROBE_MS (got ${e.HOLD_PROBE_MAX_MS} < ${e.HOLD_PROBE_MS})`);
  }
  if (e.RETRY_MAX_DELAY_MS < e.RETRY_BASE_DELAY_MS) {
    throw new ConfigError(`RETRY_MAX_DELAY_MS must be at least RETRY_BASE_DELAY_MS (got ${e.RETRY_MAX_DELAY_MS} < ${e.RETRY_BASE_DELAY_MS})`);
  }
}

/** One of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS (with REDIS_SENTINEL_MASTER). */
function redisSettings(e: Env, urlSet: boolean): RedisSettings {
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
