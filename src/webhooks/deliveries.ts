import type { JobsOptions } from 'bullmq';
import type { WebhookEndpoint } from '../config.ts';
import type { Logger } from '../log.ts';
import { Queue, Worker } from '../queue/bullmq.ts';
import { webhookQueuePrefix } from '../queue/names.ts';
import { blockingConnection, type RedisClient } from '../redis.ts';
import { signedRequest, webhookPayloadSchema } from './event.ts';
import { agentFor, post } from './post.ts';

/** What the webhooks need of an account (app/runtime.ts's AccountRuntime has it). */
export interface WebhookAccount {
  name: string;
  prefix: string;
  redis: RedisClient;
}

/** One attempt's answer may take this long; then it is a failed attempt. */
export const DELIVERY_TIMEOUT_MS = 10_000;
const RETRY_BASE_MS = 1_000;
const RETRY_CAP_MS = 3_600_000;
const BACKOFF_TYPE = 'webhook-full-jitter';

/** The longest a retry may wait after `attemptsMade` failures (1 s doubling, at most an hour); full jitter draws below it. */
const retryCapMs = (attemptsMade: number) => Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.max(0, attemptsMade - 1));

/** Tries per delivery: as many as the longest waits (every jitter at its cap) need to span `retryForMs` (36 for 24 h). */
export function attemptsFor(retryForMs: number): number {
  let retries = 0;
  for (let spanned = 0; spanned < retryForMs; retries++) spanned += retryCapMs(retries + 1);
  return retries + 1;
}

/** BullMQ fails a job at once, without its further attempts, on an error by this name. */
function unrecoverable(message: string): Error {
  const error = new Error(message);
  error.name = 'UnrecoverableError';
  return error;
}

/** Exponential backoff with full jitter. */
export function retryDelayMs(attemptsMade: number): number {
  return Math.floor(Math.random() * retryCapMs(attemptsMade));
}

/** How every delivery is added: its attempts, the jitter, and a failed one kept as the endpoint's dead letter. */
export function deliveryOptions(retryForMs: number): JobsOptions {
  return {
    attempts: attemptsFor(retryForMs),
    backoff: { type: BACKOFF_TYPE },
    // Kept a day, so a record read again soon after (a crash before XACK) finds its job and is not sent twice.
    removeOnComplete: { age: 86_400, count: 10_000 },
    removeOnFail: false,
  };
}

/** The endpoint's own queue, under the account's prefix: `<prefix>:webhook:<name>`. */
export function deliveryQueue(account: WebhookAccount, endpoint: Pick<WebhookEndpoint, 'name'>): Queue {
  return new Queue(endpoint.name, { connection: account.redis, prefix: webhookQueuePrefix(account.prefix) });
}

/** Evenly spaced one at a time up to 20 a second; above, a share every 50 ms (BullMQ's limiter pays a round trip per window, so 1 ms windows cap it far below 1,000/s). */
function limiterFor(ratePerSecond: number): { max: number; duration: number } {
  if (ratePerSecond <= 20) return { max: 1, duration: Math.round(1000 / ratePerSecond) };
  return { max: Math.max(1, Math.round(ratePerSecond / 20)), duration: 50 };
}

/**
 * The endpoint's worker: POSTs each delivery, signed, at most
 * `ratePerSecond` a second (evenly spaced up to 20 a second), with enough in flight that a
 * receiver holding every socket for the whole timeout still gets that rate.
 * It shares nothing with the operation workers, so a slow or dead receiver
 * delays no ban and no other endpoint.
 */
export function deliveryWorker(account: WebhookAccount, endpoint: WebhookEndpoint, log: Logger): { worker: Worker; close(force: boolean): Promise<void> } {
  const url = new URL(endpoint.url);
  const concurrency = Math.min(100, Math.max(2, Math.ceil((endpoint.ratePerSecond * DELIVERY_TIMEOUT_MS) / 1000)));
  const agent = agentFor(url, concurrency);
  const worker = new Worker(
    endpoint.name,
    async (job) => {
      const parsed = webhookPayloadSchema.safeParse(job.data);
      if (!parsed.success) throw unrecoverable('not a webhook delivery (written by something else?): it is not sent');
      const payload = parsed.data;
      const { body, headers } = signedRequest(payload, endpoint.secret);
      const status = await post(url, headers, body, DELIVERY_TIMEOUT_MS, agent);
      if (status < 200 || status > 299) throw new Error(`the receiver answered HTTP ${status}`);
      return { status };
    },
    {
      connection: blockingConnection(account.redis),
      prefix: webhookQueuePrefix(account.prefix),
      concurrency,
      autorun: false,
      limiter: limiterFor(endpoint.ratePerSecond),
      // A delivery cut by a crash is sent again; only one that keeps killing workers fails for good.
      maxStalledCount: 5,
      settings: { backoffStrategy: (attemptsMade, type) => (type === BACKOFF_TYPE ? retryDelayMs(attemptsMade) : 0) },
    },
  );
  const where = { account: account.name, webhook: endpoint.name };
  worker.on('failed', (job, error) => {
    if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
      log.warn({ ...where, id: job.id, attempts: job.attemptsMade, err: error.message }, `webhook delivery failed for good; \`livequeue webhooks replay ${endpoint.name}\` sends it again`);
    }
  });
  worker.on('error', (error) => log.error({ ...where, err: error.message }, 'webhook worker error (will reconnect)'));
  return {
    worker,
    async close(force) {
      await worker.close(force);
      agent.destroy();
    },
  };
}
