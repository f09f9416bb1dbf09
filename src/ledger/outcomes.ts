import type { RedisClient } from '../redis.ts';
import { z } from 'zod';
import { OPERATIONS } from '../catalog/operations.ts';
import { outcomeKey } from '../queue/names.ts';

/**
 * How each finished job ended, kept for a while (OUTCOME_TTL_SECONDS) after
 * the job itself has left the queue, so `GET /v1/jobs/:id` can still answer.
 */
export const jobOutcomeRecordSchema = z.object({
  jobId: z.string(),
  operation: z.enum(OPERATIONS),
  outcome: z.enum(['applied', 'already-applied', 'dead-lettered']),
  code: z.string().optional(),
  requestId: z.string().optional(),
  attempts: z.number().int(),
  finishedAt: z.number(),
});
export type JobOutcomeRecord = z.output<typeof jobOutcomeRecordSchema>;

export class Outcomes {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  async record(outcome: JobOutcomeRecord): Promise<void> {
    await this.redis.set(outcomeKey(this.prefix, outcome.jobId), JSON.stringify(outcome), 'EX', this.ttlSeconds);
  }

  async get(jobId: string): Promise<JobOutcomeRecord | undefined> {
    const raw = await this.redis.get(outcomeKey(this.prefix, jobId));
    if (raw === null) return undefined;
    const parsed = jobOutcomeRecordSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }
}
