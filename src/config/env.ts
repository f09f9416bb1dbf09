import { z } from 'zod';
import { ACCOUNT_NAME, ACCOUNT_NAME_RULE, REGION } from '../account/rules.ts';
import { OPERATION_INFO, OPERATIONS, type Operation, type QpsVariable } from '../catalog/operations.ts';
import { LOG_LEVELS } from './settings.ts';

/**
 * Every environment variable livequeue reads, with its rule, default and
 * description (`.describe`): the one place they are named. The README's
 * Configuration table is rendered from here (`npm run docs`).
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
const qpsSetting = (operation: Operation) =>
  positiveNumber(OPERATION_INFO[operation].qpsVariable)
    .default(OPERATION_INFO[operation].defaultQps)
    .describe(`${operation} calls per second for the account: ${OPERATION_INFO[operation].does}; give every worker of the account the same`);
const qpsVariables = Object.fromEntries(OPERATIONS.map((op) => [OPERATION_INFO[op].qpsVariable, qpsSetting(op)])) as Record<QpsVariable, ReturnType<typeof qpsSetting>>;

export const envSchema = z.object({
  REDIS_URL: z
    .string()
    .refine(isRedisUrl, 'REDIS_URL must be a redis:// or rediss:// URL with a host (percent-encode any / @ : in the password)')
    .default('redis://127.0.0.1:6379')
    .describe('one Redis holding the queues, buckets, outcomes and dead-letter queue'),
  REDIS_CLUSTER_NODES: hostPorts('REDIS_CLUSTER_NODES').optional().describe('instead: Redis Cluster, `host:port,host:port` (see "Scaling out and high availability")'),
  REDIS_SENTINELS: hostPorts('REDIS_SENTINELS').optional().describe('instead: Redis Sentinel, the sentinels `host:port,…` (with REDIS_SENTINEL_MASTER)'),
  REDIS_SENTINEL_MASTER: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'REDIS_SENTINEL_MASTER must be the master\'s name as the sentinels know it').optional().describe('with REDIS_SENTINELS: the master\'s name as the sentinels know it'),
  REDIS_PASSWORD: z.string().min(1).optional().describe('password for any of them (with Sentinel, also sent to the sentinels); never logged'),
  REDIS_TLS: z.enum(['0', '1', 'true', 'false'], { error: 'REDIS_TLS must be 1 or 0' }).optional().describe('`1`: TLS to Redis (as a `rediss://` URL does)'),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_{}.-]+$/, 'QUEUE_PREFIX may contain only letters, digits, _ . - { }')
    .default('livequeue')
    .describe('prefix of every Redis key; named accounts live under `QUEUE_PREFIX:{name}`; on a cluster the default account needs a hash tag such as `{livequeue}`'),
  LIVE_ACCOUNT: z
    .string()
    .regex(ACCOUNT_NAME, `LIVE_ACCOUNT must be ${ACCOUNT_NAME_RULE}`)
    .default('default')
    .describe('without an accounts file: the account\'s name; with one: the account a one-account command acts on (same as `--account`)'),
  LIVE_ENDPOINT: z
    .string()
    .regex(/^(https?:\/\/)?[A-Za-z0-9.-]+(:\d+)?\/?$/, 'LIVE_ENDPOINT must be a host name or http(s)://host:port')
    .default('live.aliyuncs.com')
    .describe('API endpoint (HTTPS), or `http://host:port` for the simulator'),
  LIVE_REGION: z.string().regex(REGION, 'LIVE_REGION must be a region id such as cn-shanghai').default('cn-shanghai').describe('region sent with calls that do not name their own `RegionId`'),
  LIVE_TIMEOUT_MS: positiveInt('LIVE_TIMEOUT_MS').default(10_000).describe('read timeout of one call (a timeout is retried)'),
  // FORBID_QPS, STOP_MONITOR_QPS, RESUME_QPS: one per operation of the catalog.
  ...qpsVariables,
  PACING_MARGIN_MS: nonNegativeInt('PACING_MARGIN_MS').max(500, 'PACING_MARGIN_MS must be at most 500').default(20).describe('jitter allowance added to each second of spacing; raise it when the path to the API is jittery'),
  WORKER_CONCURRENCY: positiveInt('WORKER_CONCURRENCY').max(1000, 'WORKER_CONCURRENCY must be at most 1000').default(16).describe('jobs in flight per operation per worker process'),
  RETRY_ATTEMPTS: positiveInt('RETRY_ATTEMPTS').max(1000, 'RETRY_ATTEMPTS must be at most 1000').default(22).describe('tries per job, the first included'),
  RETRY_BASE_DELAY_MS: positiveInt('RETRY_BASE_DELAY_MS').default(1_000).describe('first retry delay'),
  RETRY_MAX_DELAY_MS: positiveInt('RETRY_MAX_DELAY_MS').default(300_000).describe('longest retry delay'),
  SHUTDOWN_TIMEOUT_MS: positiveInt('SHUTDOWN_TIMEOUT_MS').default(30_000).describe('how long SIGTERM waits for in-flight calls (worker) or requests (server)'),
  JOB_LOCK_MS: positiveInt('JOB_LOCK_MS').min(1000, 'JOB_LOCK_MS must be at least 1000').default(30_000).describe('a job whose worker stops renewing its lock this long is taken over by another worker'),
  BLACKLIST_RECHECK_MS: positiveInt('BLACKLIST_RECHECK_MS').default(300_000).describe('how long bans wait after `QuotaExceeded.Blacklist` before one tries again'),
  HOLD_TRIP_AFTER: positiveInt('HOLD_TRIP_AFTER').min(2, 'HOLD_TRIP_AFTER must be at least 2').max(1000, 'HOLD_TRIP_AFTER must be at most 1000').default(8).describe('service failures in a row (across at least 3 jobs) that hold the operation'),
  HOLD_PROBE_MS: positiveInt('HOLD_PROBE_MS').min(100, 'HOLD_PROBE_MS must be at least 100').default(2_000).describe('first probe after a hold trips'),
  HOLD_PROBE_MAX_MS: positiveInt('HOLD_PROBE_MAX_MS').max(30_000, 'HOLD_PROBE_MAX_MS must be at most 30000').default(5_000).describe('longest wait between probes; also how late a recovery may be noticed'),
  OUTCOME_TTL_SECONDS: positiveInt('OUTCOME_TTL_SECONDS').default(86_400).describe('how long a finished job\'s outcome stays queryable (`GET /v1/jobs/:id`)'),
  // Fractions of a day are allowed, so a rehearsal can watch the trail trim itself.
  AUDIT_RETENTION_DAYS: positiveNumber('AUDIT_RETENTION_DAYS').max(3650, 'AUDIT_RETENTION_DAYS must be at most 3650').default(90).describe('how long the audit trail keeps a record (acts and outcomes; `livequeue history`, `livequeue audit export`)'),
  AUDIT_OUTCOMES: z.enum(['on', 'off'], { error: 'AUDIT_OUTCOMES must be on or off' }).default('on').describe('`off` keeps acts only: no outcome in the trail, so `history`, events and webhooks see none (docs/benchmarks.md says what outcomes cost)'),
  AUDIT_MAX_ENTRIES: positiveInt('AUDIT_MAX_ENTRIES').min(1000, 'AUDIT_MAX_ENTRIES must be at least 1000').default(10_000_000).describe('the most records an account\'s audit trail holds, oldest trimmed first'),
  LIVEQUEUE_API_TOKEN: z
    .string()
    .min(16, 'LIVEQUEUE_API_TOKEN must be at least 16 characters')
    // A token with whitespace could never be sent back intact in an Authorization header.
    .regex(/^\S+$/, 'LIVEQUEUE_API_TOKEN must not contain whitespace')
    .optional()
    .describe('bearer token of the HTTP API and dashboard; never logged. It is the token named `default`, with every scope. Without it or a tokens file the server binds to 127.0.0.1 only'),
  LIVEQUEUE_API_TOKENS_FILE: z.string().min(1).optional().describe('JSON file of named tokens, each `{"name", "tokenSha256", "scopes"}` with scopes of `enqueue`, `operate`, `read` (see "HTTP API"); holds hashes only'),
  HTTP_HOST: z.string().min(1).optional().describe('address `livequeue serve` listens on: `0.0.0.0` with a token, else `127.0.0.1`; anything but loopback needs a token (`LIVEQUEUE_API_TOKEN` or `LIVEQUEUE_API_TOKENS_FILE`)'),
  HTTP_PORT: nonNegativeInt('HTTP_PORT').max(65_535, 'HTTP_PORT must be at most 65535').default(8080).describe('port of `livequeue serve` (0 picks a free one)'),
  HTTP_BODY_LIMIT_BYTES: positiveInt('HTTP_BODY_LIMIT_BYTES').default(1_048_576).describe('largest request body; larger ones get 413'),
  METRICS_PORT: nonNegativeInt('METRICS_PORT').max(65_535, 'METRICS_PORT must be at most 65535').default(9464).describe('port of a worker\'s `/metrics` on all interfaces; `0` turns it off. If the port is taken (a second worker on the same machine), the worker warns and runs without it'),
  LIVEQUEUE_ACCOUNTS_FILE: z.string().min(1).optional().describe('JSON file naming several accounts (see "Several accounts")'),
  LIVE_DOMAINS: z
    .string()
    .regex(/^[A-Za-z0-9.-]+(,[A-Za-z0-9.-]+)*$/, 'LIVE_DOMAINS must be a comma-separated list of domain names')
    .optional()
    .describe('comma-separated domains whose blacklist size is read, besides those the account bans in'),
  BLACKLIST_REFRESH_MS: positiveInt('BLACKLIST_REFRESH_MS').min(10_000, 'BLACKLIST_REFRESH_MS must be at least 10000').default(300_000).describe('how often a worker reads the blacklist\'s size'),
  LIVEQUEUE_WEBHOOKS_FILE: z.string().min(1).optional().describe('JSON file of webhook endpoints, each `{"name", "url", "events", "secretEnv", "ratePerSecond"?, "operations"?}` (see "Webhooks"); holds no secret'),
  WEBHOOKS_ALLOW_HTTP_LOOPBACK: z.enum(['0', '1', 'true', 'false'], { error: 'WEBHOOKS_ALLOW_HTTP_LOOPBACK must be 1 or 0' }).optional().describe('`1`: a webhook `url` may be `http://` to `127.0.0.1`, `::1` or `localhost` (local receivers, tests)'),
  // 24 h; a rehearsal (or a test) sets a few seconds to see deliveries fail for good.
  WEBHOOK_RETRY_FOR_MS: positiveInt('WEBHOOK_RETRY_FOR_MS').max(7 * 86_400_000, 'WEBHOOK_RETRY_FOR_MS must be at most 604800000 (7 days)').default(86_400_000).describe('how long a webhook delivery is retried before it fails for good (the attempts follow from it); a few seconds to rehearse failed deliveries'),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent' }).default('info').describe('pino level'),
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


export type Env = z.output<typeof envSchema>;
