import type { Job } from 'bullmq';
import type { ProcessorDeps } from './processor-deps.ts';
import { decide } from './decide.ts';
import type { Called } from './called.ts';
import { checkPayload } from './payload-check.ts';
import { passGates } from './call-gates.ts';
import { callInSlot } from './call-in-slot.ts';
import { gatherFacts } from './gather-facts.ts';
import { applyAction } from './apply-action.ts';
import { deadLetter, type JobOutcome } from './job-endings.ts';

// Importers know the processor by this module; the parts live beside it.
export type { ProcessorDeps } from './processor-deps.ts';
export type { JobOutcome } from './job-endings.ts';
export { RetryableCallError } from './apply-action.ts';

/** One job's path for one account's operation, from its checks to what its answer means. */
async function runJob(deps: ProcessorDeps, job: Job, token: string | undefined): Promise<JobOutcome> {
  const attempt = job.attemptsMade + 1;
  const checked = checkPayload(deps, job);
  if (!checked.ok) return deadLetter(deps, job, checked.cause, attempt, 'none');
  const { params, addsToBlacklist } = checked;

  const { accountProbe, localProbe } = await passGates(deps, job, token, params, addsToBlacklist);
  try {
    const { result, probe } = await callInSlot(deps, job, token, params, accountProbe, localProbe);
    const called: Called = { params, attempt, addsToBlacklist, probe, localProbe, sentAt: performance.now() - result.latencyMs };
    return await applyAction(deps, job, token, decide(await gatherFacts(deps, job, result, called)), result, called);
  } finally {
    // A local probe that ended without an answer (a hold, a give-way) lets the next job probe.
    if (localProbe) deps.hostHold.settle();
  }
}

/**
 * One job: validate -> pass the operation's hold -> wait for a token -> call
 * -> act on the answer as the error-code table says. Waiting for the token,
 * and waiting out a hold, cost no retry attempt; retries come back through
 * the same bucket.
 */
export function createProcessor(deps: ProcessorDeps): (job: Job, token?: string) => Promise<JobOutcome> {
  return (job, token) => runJob(deps, job, token);
}
