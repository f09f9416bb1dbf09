import type { Operation } from '../catalog/operations.ts';
import type { RedisClient } from '../redis.ts';
import { urgentChannel } from './names.ts';

/**
 * The urgent lane's doorbell. A worker holds up to its concurrency of jobs,
 * most of them waiting for a token; BullMQ fetches the next job only when one
 * of them ends, so an urgent job would wait for a backlog job's call. The
 * producer rings on a pub/sub channel when it adds urgent jobs, and each
 * worker process sends that many of its waiting backlog jobs back to the
 * front of the queue (Pacer.giveWay): the places they free fetch the urgent
 * jobs, which wait for the next slot only.
 * A missed message (a reconnect) costs latency, never a job.
 */
export async function announceUrgent(redis: RedisClient, prefix: string, operation: Operation, count: number): Promise<void> {
  if (count > 0) await redis.publish(urgentChannel(prefix, operation), String(count));
}

/** Listens for urgent jobs on one subscriber connection and calls `onUrgent` with their operation and number. */
export class UrgentNotices {
  private readonly operations = new Map<string, Operation>();

  constructor(
    private readonly subscriber: RedisClient,
    prefix: string,
    operations: readonly Operation[],
    onUrgent: (operation: Operation, count: number) => void,
  ) {
    for (const operation of operations) this.operations.set(urgentChannel(prefix, operation), operation);
    // The process's outage log reports Redis going away, from its other connections; ioredis resubscribes on reconnect.
    subscriber.on('error', () => {});
    subscriber.on('message', (channel: string, message: string) => {
      const operation = this.operations.get(channel);
      const count = Number.parseInt(message, 10);
      if (operation && count > 0) onUrgent(operation, count);
    });
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(...this.operations.keys());
  }

  close(): void {
    this.subscriber.disconnect();
  }
}
