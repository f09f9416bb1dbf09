import { z } from 'zod';
import { ACCOUNT_NAME, ACCOUNT_NAME_RULE, REGION } from '../account/rules.ts';
import { OPERATION_INFO, OPERATIONS, type Operation, type QpsVariable } from '../catalog/operations.ts';
import { LOG_LEVELS } from './settings.ts';

/** Every environment variable livequeue reads, with its rule and default: the one place they are named. */

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

export const envSchema = z.object({
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
  // Fractions of a day are allowed, so a rehearsal can watch the trail trim itself.
  AUDIT_RETENTION_DAYS: positiveNumber('AUDIT_RETENTION_DAYS').max(3650, 'AUDIT_RETENTION_DAYS must be at most 3650').default(90),
  AUDIT_OUTCOMES: z.enum(['on', 'off'], { error: 'AUDIT_OUTCOMES must be on or off' }).default('on'),
  AUDIT_MAX_ENTRIES: positiveInt('AUDIT_MAX_ENTRIES').min(1000, 'AUDIT_MAX_ENTRIES must be at least 1000').default(10_000_000),
  LIVEQUEUE_API_TOKEN: z
    .string()
    .min(16, 'LIVEQUEUE_API_TOKEN must be at least 16 characters')
    // A token with whitespace could never be sent back intact in an Authorization header.
    .regex(/^\S+$/, 'LIVEQUEUE_API_TOKEN must not contain whitespace')
    .optional(),
  LIVEQUEUE_API_TOKENS_FILE: z.string().min(1).optional(),
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
  LIVEQUEUE_WEBHOOKS_FILE: z.string().min(1).optional(),
  WEBHOOKS_ALLOW_HTTP_LOOPBACK: z.enum(['0', '1', 'true', 'false'], { error: 'WEBHOOKS_ALLOW_HTTP_LOOPBACK must be 1 or 0' }).optional(),
  // 24 h; a rehearsal (or a test) sets a few seconds to see deliveries fail for good.
  WEBHOOK_RETRY_FOR_MS: positiveInt('WEBHOOK_RETRY_FOR_MS').max(7 * 86_400_000, 'WEBHOOK_RETRY_FOR_MS must be at most 604800000 (7 days)').default(86_400_000),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent' }).default('info'),
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
