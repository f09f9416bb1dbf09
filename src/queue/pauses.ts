import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Operation } from '../live/operations.ts';
import { blacklistFullKey, pauseKey, queueName } from './names.ts';

/**
 * Account-level holds, shared by every worker through Redis.
 *
 * - An operation pause (bad credentials, missing permission) pauses the
 *   operation's BullMQ queue, so no worker anywhere takes its jobs, and
 *   records why. It lasts until an operator resumes it: the fix is outside.
 * - A full blacklist holds only the bans that would add to it; interrupt-only
 *   bans (Oneshot=yes) and monitor stops go on. It expires by itself after the
 *   re-check interval, when the next ban tries again (and renews it if the
 *   blacklist is still full), or an operator resumes it.
 */
export const pauseInfoSchema = z.object({
  code: z.string(),
  message: z.string(),
  since: z.number(),
});
export type PauseInfo = z.output<typeof pauseInfoSchema>;

const blacklistHoldSchema = pauseInfoSchema.extend({ until: z.number() });
export type BlacklistHold = z.output<typeof blacklistHoldSchema>;

export class Pauses {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly account: string,
  ) {}

  /** Pauses the operation everywhere; returns false if it was paused already. */
  async pauseOperation(operation: Operation, info: PauseInfo): Promise<boolean> {
    const first = await this.redis.set(pauseKey(this.prefix, this.account, operation), JSON.stringify(info), 'NX');
    await this.withQueue(operation, (queue) => queue.pause());
    return first === 'OK';
  }

  async operationPause(operation: Operation): Promise<PauseInfo | undefined> {
    return parse(pauseInfoSchema, await this.redis.get(pauseKey(this.prefix, this.account, operation)));
  }

  /** Holds non-Oneshot bans until `until`; returns false if a hold was already in place. */
  async holdBlacklist(info: PauseInfo, until: number): Promise<boolean> {
    const previous = await this.redis.set(blacklistFullKey(this.prefix, this.account), JSON.stringify({ ...info, until }), 'PX', Math.max(1, until - Date.now()), 'GET');
    return previous === null;
  }

  async blacklistHold(): Promise<BlacklistHold | undefined> {
    return parse(blacklistHoldSchema, await this.redis.get(blacklistFullKey(this.prefix, this.account)));
  }

  /**
   * Lifts every hold on the operation: resumes its queue and, for bans,
   * releases the ones held for the blacklist at once. Returns how many held
   * jobs were released.
   */
  async resume(operation: Operation): Promise<number> {
    await this.redis.del(pauseKey(this.prefix, this.account, operation));
    return this.withQueue(operation, async (queue) => {
      await queue.resume();
      if (operation !== 'ForbidLiveStream') return 0;
      await this.redis.del(blacklistFullKey(this.prefix, this.account));
      let released = 0;
      for (let start = 0; ; start += 500) {
        const delayed = await queue.getDelayed(start, start + 499);
        for (const job of delayed) {
          if ((job.progress as { heldFor?: string } | undefined)?.heldFor === 'blacklist') {
            await job.promote();
            released++;
          }
        }
        if (delayed.length < 500) return released;
      }
    });
  }

  private async withQueue<T>(operation: Operation, use: (queue: Queue) => Promise<T>): Promise<T> {
    const queue = new Queue(queueName(operation), { connection: this.redis, prefix: this.prefix });
    try {
      return await use(queue);
    } finally {
      await queue.close();
    }
  }
}

function parse<T>(schema: z.ZodType<T>, raw: string | null): T | undefined {
  if (raw === null) return undefined;
  const parsed = schema.safeParse(JSON.parse(raw));
  return parsed.success ? parsed.data : undefined;
}
