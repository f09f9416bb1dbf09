import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** What a batch id may be, how one is made, and how long a batch is kept. */
export const BATCH_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
export const BATCH_ID_RULE = '1-64 letters, digits, _ . : -';
export const batchIdSchema = z.string().regex(BATCH_ID, `batch must be ${BATCH_ID_RULE}`);
export const BATCH_TTL_SECONDS = 30 * 86_400;

export function newBatchId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
}
