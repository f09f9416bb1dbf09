import { OPERATION_INFO } from '../catalog/operations.ts';
import type { Job } from 'bullmq';
import { describeFieldErrors, parseParams } from '../jobs/schemas.ts';
import type { DeadLetterCause } from '../ledger/dead-letter-entry.ts';
import { accountOfJobId } from '../queue/names.ts';
import type { ProcessorDeps } from './processor-deps.ts';
import { isUnreadablePayload } from './tolerant-worker.ts';

/**
 * Whether a job may be sent at all, judged from the job alone: no waiting
 * makes an unreadable payload, another account's job or a passed ResumeTime
 * valid, so each is a dead-letter cause, found before any call.
 */
export type PayloadCheck =
  | { ok: true; params: unknown; addsToBlacklist: boolean }
  | { ok: false; cause: DeadLetterCause };

export function checkPayload(deps: Pick<ProcessorDeps, 'account' | 'operation'>, job: Job): PayloadCheck {
  const { account, operation } = deps;
  if (isUnreadablePayload(job.data)) {
    return { ok: false, cause: { reason: 'invalid-payload', code: 'InvalidPayload', message: 'the payload stored in Redis is not valid JSON' } };
  }
  // A job id names its account (queue/names.ts jobId); one that names
  // another account got into this account's queue by hand: never run it
  // with this account's credentials.
  const owner = accountOfJobId(job.id!);
  if (owner !== undefined && owner !== account) {
    return { ok: false, cause: { reason: 'invalid-payload', code: 'WrongAccount', message: `job ${job.id} belongs to account "${owner}", not "${account}"; it was not called` } };
  }
  const parsed = parseParams(operation, job.data);
  if (!parsed.ok) {
    return { ok: false, cause: { reason: 'invalid-payload', code: 'InvalidPayload', message: describeFieldErrors(parsed.errors) } };
  }
  const addsToBlacklist = OPERATION_INFO[operation].addsToBlacklist && (parsed.value as { Oneshot?: string }).Oneshot !== 'yes';
  // A ban whose ResumeTime passed while it waited (a hold, a backlog) would end at once: say so instead of sending it.
  const resumeTime = (parsed.value as { ResumeTime?: string }).ResumeTime;
  if (resumeTime !== undefined && Date.parse(resumeTime) <= Date.now()) {
    return { ok: false, cause: { reason: 'terminal', code: 'ResumeTimePassed', message: `ResumeTime ${resumeTime} passed before the ban could be sent; enqueue it again with a later ResumeTime, or without one` } };
  }
  return { ok: true, params: parsed.value, addsToBlacklist };
}
