import type { Logger } from '../log.ts';

/**
 * While Redis is unreachable every connection of a worker process (its own,
 * BullMQ's per queue and per worker) fails over and over as it reconnects.
 * This logs the outage once when it begins, then at most every `everyMs`
 * with a count, and once when Redis answers again, instead of a line (or a
 * stack) for every failed attempt.
 */
export class OutageLog {
  private down = false;
  private since = 0;
  private errors = 0;
  private lastLoggedAt = 0;

  constructor(
    private readonly log: Logger,
    private readonly everyMs = 10_000,
  ) {}

  get redisDown(): boolean {
    return this.down;
  }

  error(source: string, error: Error): void {
    const now = Date.now();
    this.errors++;
    if (!this.down) {
      this.down = true;
      this.since = now;
      this.lastLoggedAt = now;
      this.log.warn({ source, err: error.message }, 'Redis unreachable: reconnecting; jobs wait in Redis and nothing is lost');
      return;
    }
    if (now - this.lastLoggedAt < this.everyMs) return;
    this.lastLoggedAt = now;
    this.log.warn({ source, err: error.message, failedAttempts: this.errors, downForMs: now - this.since }, 'Redis still unreachable: reconnecting');
  }

  ready(): void {
    if (!this.down) return;
    this.log.info({ downForMs: Date.now() - this.since, failedAttempts: this.errors }, 'Redis reachable again');
    this.down = false;
    this.errors = 0;
  }
}
