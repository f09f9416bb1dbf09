import type { AccountConfig } from '../account/settings.ts';
import type { ApiScope, ApiToken } from './tokens-file.ts';
import type { WebhookEndpoint } from './webhooks-file.ts';

export type { AccountConfig, ApiScope, ApiToken, WebhookEndpoint };

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
