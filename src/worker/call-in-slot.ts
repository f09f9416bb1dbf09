import type { Job } from 'bullmq';
import type { LiveCallFailure, LiveCallSuccess } from '../live/client.ts';
import { targetOf } from '../jobs/targets.ts';
import type { ProcessorDeps } from './processor-deps.ts';
import { backToWaiting, HOST_HELD, waitForHold } from './job-moves.ts';

type SlotDeps = Pick<ProcessorDeps, 'operation' | 'live' | 'pacer' | 'holds' | 'holdView' | 'hostHold' | 'log' | 'observer'>;

/**
 * Waits for a slot and calls. A call that could not leave on time was
 * never sent: it takes the next slot. Gives way, or waits for a hold, when
 * one came up while the job waited.
 */
export async function callInSlot(deps: SlotDeps, job: Job, token: string | undefined, params: unknown, accountProbe: boolean, localProbe: boolean): Promise<{ result: LiveCallSuccess | LiveCallFailure; probe: boolean }> {
  const { operation, live, pacer, holds, holdView, hostHold, observer } = deps;
  let probe = accountProbe;
  for (;;) {
    const waitingSince = performance.now();
    // A probe decides whether a hold lifts: it waits at the front and never gives way.
    const grant = await pacer.acquire(probe || localProbe ? 0 : (job.opts.priority ?? 0));
    if (grant.kind === 'give-way') return backToWaiting(deps, job, token, 'gave way to an urgent job');
    observer.slotWait(operation, performance.now() - waitingSince);
    // A hold may have tripped while this job waited for its slot: do not
    // call into it. Read from the local view only: a round trip here would
    // make the call late for its slot.
    if (!probe && holdView.peek().hold) {
      const gate = await holds.gate(operation, job.id!, targetOf(operation, params));
      if (gate.state === 'closed') return waitForHold(deps, gate.retryInMs);
      probe = gate.state === 'probe';
    }
    // This process began to hold itself while the job waited: its call would fail the same way.
    if (!localProbe && hostHold.peek()) return backToWaiting(deps, job, token, HOST_HELD);
    const result = await live.call(operation, params as never, { sendBy: grant.sendBy });
    if (result.ok || result.notSent !== true) {
      observer.call(operation, result.ok ? 'OK' : result.code, result.latencyMs);
      return { result, probe };
    }
    observer.missedSlot(operation);
  }
}
