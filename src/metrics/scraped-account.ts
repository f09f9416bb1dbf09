import type { Queue } from 'bullmq';
import type { BlacklistHeadroom } from '../blacklist/headroom.ts';
import type { Operation } from '../catalog/operations.ts';
import type { OperationStatus } from '../ledger/status.ts';
import type { TokenBucket } from '../ratelimit/token-bucket.ts';
import type { RedisClient } from '../redis.ts';
import type { WebhookEndpoint } from '../config.ts';

/**
 * What the queue gauges read of one account. Declared here, not taken from
 * app/, so metrics does not depend on the layer that wires it up; the
 * account runtime satisfies it as it is.
 */
export interface ScrapedAccount {
  readonly name: string;
  /** With `redis`, where the account's webhook queues are (webhooks/dead-deliveries.ts). */
  readonly prefix: string;
  readonly redis: RedisClient;
  readonly config: { readonly webhooks: { readonly endpoints: readonly Pick<WebhookEndpoint, 'name'>[] } };
  status(): Promise<OperationStatus[]>;
  queue(operation: Operation): Pick<Queue, 'getJobs'>;
  bucket(operation: Operation): Pick<TokenBucket, 'state' | 'settings'>;
  readonly blacklist: Pick<BlacklistHeadroom, 'cached'>;
}
