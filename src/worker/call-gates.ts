import type { Job } from 'bullmq';
import { targetOf } from '../jobs/targets.ts';
import type { ProcessorDeps } from './processor-deps.ts';
import { backToWaiting, delayForBlacklist, HOST_HELD, waitForHold } from './job-moves.ts';

/** How a job that passed every gate goes out: as the operation's probe, this process's probe, or neither. */
export interface GatesPassed {
  accountProbe: boolean;
  localProbe: boolean;
}

/**
 * Whether a valid job may call now: the operation's hold, the blacklist hold
 * (for a ban that adds to it), then this process's own hold. A closed gate
 * moves the job away without using an attempt (it throws); an open one says
 * whether the call is a probe.
 *
 * The host gate is asked last and nothing follows it here: a local probe it
 * grants must be settled by the caller (HostHold.settle) however the call ends.
 */
export async function passGates(deps: ProcessorDeps, job: Job, token: string | undefined, params: unknown, addsToBlacklist: boolean): Promise<GatesPassed> {
  const { operation, holds, holdView, hostHold } = deps;
  const held = await holdView.current();
  let accountProbe = false;
  const target = targetOf(operation, params);
  if (held.hold) {
    const gate = await holds.gate(operation, job.id!, target);
    if (gate.state === 'closed') return waitForHold(deps, gate.retryInMs);
    accountProbe = gate.state === 'probe';
    if (gate.state === 'open') holdView.invalidate();
  }
  if (addsToBlacklist && held.blacklistHeldUntil) return delayForBlacklist(deps, job, token, held.blacklistHeldUntil);

  const local = hostHold.gate();
  if (local === 'closed') return backToWaiting(deps, job, token, HOST_HELD);
  return { accountProbe, localProbe: local === 'probe' };
}
