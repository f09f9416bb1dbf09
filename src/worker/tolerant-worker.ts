import type { Job, JobJson } from 'bullmq';
import { Worker } from '../queue/bullmq.ts';

/** Stands in for a payload that is not even JSON, so the processor can dead-letter it. */
export const UNREADABLE_PAYLOAD = 'unreadablePayload';
const KEEP_CHARS = 4096;

/**
 * BullMQ's Worker parses job data before our processor sees it; a payload
 * that is not JSON (written to Redis by something else) would throw there and
 * leave the job bouncing between active and stalled forever. This worker
 * wraps such a payload instead, so the processor dead-letters it as invalid
 * and the drain goes on.
 */
export class TolerantWorker extends Worker {
  protected override createJob(data: JobJson, jobId: string): Job {
    try {
      return super.createJob(data, jobId);
    } catch {
      const raw = typeof data.data === 'string' ? data.data.slice(0, KEEP_CHARS) : String(data.data);
      return super.createJob({ ...data, data: JSON.stringify({ [UNREADABLE_PAYLOAD]: raw }), progress: '0' } as JobJson, jobId);
    }
  }
}

export function isUnreadablePayload(data: unknown): data is { [UNREADABLE_PAYLOAD]: string } {
  return typeof data === 'object' && data !== null && UNREADABLE_PAYLOAD in data;
}
