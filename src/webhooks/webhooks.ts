import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Queue } from '../queue/bullmq.ts';
import { deliveryOptions, deliveryQueue, deliveryWorker, type WebhookAccount } from './deliveries.ts';
import { WebhookFeeder } from './feeder.ts';

export type { WebhookAccount } from './deliveries.ts';

/** The webhook deliveries a worker process runs; close() stops them (in-flight POSTs finish unless forced). */
export interface RunningWebhooks {
  close(force: boolean): Promise<void>;
}

/**
 * Starts, for every account and every endpoint of LIVEQUEUE_WEBHOOKS_FILE,
 * the feeder (audit trail -> the endpoint's queue) and the endpoint's worker
 * (queue -> signed POSTs). Resolves once every consumer group exists, so
 * every record written from then on is delivered.
 */
export async function startWebhooks(accounts: readonly WebhookAccount[], config: Pick<Config, 'webhooks'>, log: Logger): Promise<RunningWebhooks> {
  const { endpoints, retryForMs } = config.webhooks;
  const options = deliveryOptions(retryForMs);
  const parts = accounts.flatMap((account) =>
    endpoints.map((endpoint) => {
      const queue: Queue = deliveryQueue(account, endpoint);
      queue.on('error', () => {
        // Outages are reported by the process's own connection.
      });
      return { queue, feeder: new WebhookFeeder(account, endpoint, queue, options, log), delivery: deliveryWorker(account, endpoint, log) };
    }),
  );
  await Promise.all(parts.map((p) => p.feeder.start()));
  for (const p of parts) void p.delivery.worker.run();
  log.info({ webhooks: endpoints.map((e) => ({ name: e.name, events: e.events, ratePerSecond: e.ratePerSecond })), accounts: accounts.map((a) => a.name) }, 'webhook deliveries started');
  return {
    async close(force) {
      await Promise.all(parts.map((p) => p.feeder.close()));
      await Promise.all(parts.map((p) => p.delivery.close(force)));
      await Promise.all(parts.map((p) => p.queue.close()));
    },
  };
}
