import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { DeadLetterQueue } from '../queue/dead-letter.ts';
import type { Outcomes } from '../queue/outcomes.ts';
import type { Producer } from '../queue/producer.ts';

/** What the routes share: one fail-fast Redis connection and the queue objects built on it. */
export interface ApiContext {
  config: Config;
  redis: Redis;
  producer: Producer;
  deadLetters: DeadLetterQueue;
  outcomes: Outcomes;
}
