import type { Redis } from 'ioredis';
import { OPERATIONS, type Operation } from '../live/operations.ts';
import { statsKey } from './names.ts';

/**
 * Lifetime outcome counters per operation, kept in Redis so every worker adds
 * to the same numbers and `status` can read them after jobs left the queue.
 */
export const COUNTERS = ['applied', 'alreadyApplied', 'deadLettered', 'retried', 'throttled'] as const;
export type Counter = (typeof COUNTERS)[number];
export type Counts = Record<Counter, number>;

export class Stats {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async increment(operation: Operation, counter: Counter, by = 1): Promise<void> {
    await this.redis.hincrby(statsKey(this.prefix, operation), counter, by);
  }

  async read(operation: Operation): Promise<Counts> {
    const raw = await this.redis.hgetall(statsKey(this.prefix, operation));
    return Object.fromEntries(COUNTERS.map((c) => [c, Number(raw[c] ?? 0)])) as Counts;
  }

  async readAll(): Promise<Record<Operation, Counts>> {
    const all = await Promise.all(OPERATIONS.map((op) => this.read(op)));
    return Object.fromEntries(OPERATIONS.map((op, i) => [op, all[i]])) as Record<Operation, Counts>;
  }
}
