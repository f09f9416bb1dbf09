import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { AccountConfig } from '../account/settings.ts';
import { OPERATIONS, operationFromSlug, type Operation } from '../catalog/operations.ts';
import type { ApiScope, ApiToken } from './tokens-file.ts';

export type { AccountConfig, ApiScope, ApiToken };

/** The log levels pino knows, from the loudest to none. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Where Redis is, as configured (see config.ts): one node (REDIS_URL), a
 * Cluster (REDIS_CLUSTER_NODES) or a Sentinel-managed master
 * (REDIS_SENTINELS + REDIS_SENTINEL_MASTER). The password (REDIS_PASSWORD)
 * is only ever handed to ioredis.
 */
export type RedisSettings = { password?: string; tls: boolean } & (
  | { mode: 'single'; url: string }
  | { mode: 'cluster'; nodes: HostPort[] }
  | { mode: 'sentinel'; sentinels: HostPort[]; masterName: string }
);

export interface RetrySchedule {
  /** Total tries of one job, the first call included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** When a systemic hold trips and how it probes (holds/holds.ts). */
export interface HoldSettings {
  tripAfter: number;
  tripDistinctJobs: number;
  probeMs: number;
  probeMaxMs: number;
  /** How long a probe may take before another worker may probe instead. */
  probeLeaseMs: number;
  /** A process's host-fault record not refreshed this long is gone (the process stopped or recovered). */
  hostFaultStaleMs: number;
  /** How long one process may fail alone, with no other process succeeding, before the account is held. */
  hostFaultGraceMs: number;
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
  /** When a systemic hold trips and how it probes (see holds/holds.ts). */
  holds: HoldSettings;
  /** How long a finished job's outcome stays queryable. */
  outcomeTtlSeconds: number;
  /** The audit trail of each account: records older than `retentionMs` are trimmed, and it never holds more than `maxEntries`. */
  audit: { retentionMs: number; maxEntries: number; outcomes: boolean };
  http: {
    /** LIVEQUEUE_API_TOKEN, also in `tokens` as "default" with every scope. */
    apiToken?: string;
    /**
     * Every token of the HTTP API, by name and SHA-256, with its scopes:
     * LIVEQUEUE_API_TOKEN's ("default") and LIVEQUEUE_API_TOKENS_FILE's.
     * Without any, the server binds to 127.0.0.1 only.
     */
    tokens: ApiToken[];
    host: string;
    port: number;
    bodyLimitBytes: number;
  };
  /** LIVEQUEUE_WEBHOOKS_FILE's endpoints (none without it), and how long a delivery is retried (WEBHOOK_RETRY_FOR_MS). */
  webhooks: { endpoints: WebhookEndpoint[]; retryForMs: number };
  /** Port of the worker's /metrics endpoint; 0 turns it off. */
  metricsPort: number;
  logLevel: LogLevel;
}

/** What a webhook endpoint may receive: job outcomes and finished batches (the audit trail's records). */
export const WEBHOOK_EVENTS = ['outcome', 'batch.done'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/**
 * One endpoint of LIVEQUEUE_WEBHOOKS_FILE. `secret` is read from the variable
 * `secretEnv` names at load; it is not enumerable, so no log line or JSON of a
 * config carries it.
 */
export interface WebhookEndpoint {
  name: string;
  url: string;
  events: readonly WebhookEvent[];
  /** Only records of these operations (all without it). */
  operations?: readonly Operation[];
  secretEnv: string;
  ratePerSecond: number;
  readonly secret: string;
}

const WEBHOOK_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const LOOPBACK = ['127.0.0.1', '[::1]', 'localhost'];
const webhookSchema = z.strictObject(
  {
    name: z.string({ error: 'name is required (a string)' }).regex(WEBHOOK_NAME, 'name must be 1 to 64 letters, digits, _ . -'),
    url: z.url({ error: 'url must be an absolute URL (https://...)' }),
    events: z.array(z.enum(WEBHOOK_EVENTS, { error: `each event must be one of ${WEBHOOK_EVENTS.join(', ')}` }), { error: `events must be a list of ${WEBHOOK_EVENTS.join(', ')}` }).min(1, 'events must name at least one event'),
    operations: z
      .array(z.string().transform((name, ctx) => (OPERATIONS as readonly string[]).includes(name) ? (name as Operation) : (operationFromSlug(name) ?? (ctx.addIssue({ code: 'custom', message: `each operation must be one of ${OPERATIONS.join(', ')} (or its slug)` }), z.NEVER))), { error: 'operations must be a list of operations' })
      .min(1, 'operations must name at least one operation (leave it out for all)')
      .optional(),
    secretEnv: z.string({ error: 'secretEnv is required: the name of the environment variable holding the signing secret' }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'secretEnv must be the name of an environment variable'),
    ratePerSecond: z.number({ error: 'ratePerSecond must be a number' }).positive('ratePerSecond must be greater than 0').max(1000, 'ratePerSecond must be at most 1000').default(10),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')} (the fields are name, url, events, secretEnv, ratePerSecond, operations)` : 'must be an object with name, url, events and secretEnv') },
);

/** The rules of one endpoint that zod's per-field rules cannot say: the URL's scheme, the secret. */
function endpointProblem(entry: z.output<typeof webhookSchema>, env: Record<string, string | undefined>, allowHttpLoopback: boolean): string | undefined {
  const url = new URL(entry.url);
  const loopback = allowHttpLoopback && url.protocol === 'http:' && LOOPBACK.includes(url.hostname);
  if (url.protocol !== 'https:' && !loopback) return `url: must be https:// (http:// only to 127.0.0.1, ::1 or localhost, with WEBHOOKS_ALLOW_HTTP_LOOPBACK=1)`;
  const secret = env[entry.secretEnv];
  // Never the value: only the variable's name and the rule.
  if (secret === undefined || secret === '') return `secretEnv: the environment variable ${entry.secretEnv} is not set (it must hold the signing secret, at least 32 characters)`;
  if (secret.length < 32) return `secretEnv: the secret in ${entry.secretEnv} must be at least 32 characters`;
  return undefined;
}

/**
 * LIVEQUEUE_WEBHOOKS_FILE: a JSON list of endpoints, or what is wrong with
 * it as `webhooks[i].field: rule` (never a secret). Secrets come from the
 * environment variables the entries name.
 */
export function readWebhooksFile(path: string, env: Record<string, string | undefined>, allowHttpLoopback: boolean): WebhookEndpoint[] | string {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `cannot be read (${code})` : 'is not JSON: it must be a list of {"name", "url", "events", "secretEnv"}';
  }
  if (!Array.isArray(json)) return 'must be a list of {"name", "url", "events", "secretEnv"}';
  const endpoints: WebhookEndpoint[] = [];
  for (const [i, raw] of json.entries()) {
    const parsed = webhookSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return `${issue.path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : `${out}.${String(key)}`), `webhooks[${i}]`)}: ${issue.message}`;
    }
    const problem = endpointProblem(parsed.data, env, allowHttpLoopback);
    if (problem) return `webhooks[${i}].${problem}`;
    const same = endpoints.findIndex((e) => e.name === parsed.data.name);
    if (same !== -1) return `webhooks[${i}].name: "${parsed.data.name}" is already the name of webhooks[${same}]: names must be unique`;
    const fields: Omit<WebhookEndpoint, 'secret'> = { ...parsed.data };
    endpoints.push(Object.defineProperty(fields, 'secret', { value: env[parsed.data.secretEnv]!, enumerable: false }) as WebhookEndpoint);
  }
  return endpoints;
}
