import type { WebhookEndpoint } from '../config.ts';
import type { WebhookStatus } from '../ledger/status.ts';
import { deliveryQueue, type WebhookAccount } from './deliveries.ts';

/**
 * A delivery that used all its attempts stays in its endpoint's queue as a
 * failed job: the endpoint's dead letters, counted by `livequeue status` and
 * sent again by `livequeue webhooks replay <name>`. They hold the payload and
 * the last error (an HTTP status, a timeout, a network error), never a secret.
 */

const PAGE = 500;

/** Each endpoint's deliveries for one account: failed for good, and still to go. */
export async function webhookStatus(account: WebhookAccount, endpoints: readonly Pick<WebhookEndpoint, 'name'>[]): Promise<WebhookStatus[]> {
  return Promise.all(
    endpoints.map(async (endpoint) => {
      const queue = deliveryQueue(account, endpoint);
      try {
        const counts = await queue.getJobCounts('failed', 'waiting', 'prioritized', 'delayed', 'active');
        return { endpoint: endpoint.name, failed: counts.failed ?? 0, waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0), delayed: counts.delayed ?? 0, active: counts.active ?? 0 };
      } finally {
        await queue.close();
      }
    }),
  );
}

/** Puts the endpoint's failed deliveries back in its queue with fresh attempts; returns how many. */
export async function replayFailedDeliveries(account: WebhookAccount, endpoint: Pick<WebhookEndpoint, 'name'>): Promise<number> {
  const queue = deliveryQueue(account, endpoint);
  try {
    let replayed = 0;
    for (;;) {
      // Each replayed job leaves the failed set, so the next page starts at 0 again.
      const page = (await queue.getFailed(0, PAGE - 1)).filter((job) => job !== undefined);
      let moved = 0;
      for (const job of page) {
        const retried = await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }).then(() => true, () => false);
        if (retried) moved++;
      }
      replayed += moved;
      if (page.length < PAGE || moved === 0) return replayed;
    }
  } finally {
    await queue.close();
  }
}
