import type { RetrySchedule } from '../config.ts';
import type { Classification, HoldReason } from '../catalog/error-codes.ts';
import type { FailureEvidence, FailureVerdict } from '../holds/holds.ts';
import type { HostFaultVerdict } from '../holds/host-faults.ts';
import { retryDelayMs } from './backoff.ts';

/**
 * What a job's answer means for the job, decided without I/O so every branch
 * can be tested as a row of a table (test/decide.test.ts). The processor
 * gathers the facts (the call, and the verdicts nextQuestion asks it for),
 * calls decide, and carries out the Action.
 */

/** What happened to the job's call. */
export type Answer =
  | { ok: true }
  | { ok: false; classification: Pick<Classification, 'outcome' | 'holdReason'>; retryAfterMs?: number };

export interface Facts {
  answer: Answer;
  /** The call went out as the operation's probe: a hold lifts or stays on its answer. */
  probe: boolean;
  /** The attempt this call was (1 = first) and how many the job has. */
  attempt: number;
  maxAttempts: number;
  /** A ban that adds to the blacklist (ForbidLiveStream without Oneshot=yes). */
  addsToBlacklist: boolean;
  retry: RetrySchedule;
  /** A draw in [0, 1) for the retry delay's jitter: passed in so decide stays pure. */
  jitter: number;
  blacklistRecheckMs: number;
  now: number;
  /** This process's verdict on a host fault: present once nextQuestion asked for it. */
  hostVerdict?: HostFaultVerdict;
  /** The operation hold's verdict on the failure: present once nextQuestion asked for it. */
  holdVerdict?: FailureVerdict;
}

/** A verdict decide needs before it can answer; the processor asks, then decides again. */
export type Question =
  | { ask: 'host' }
  /** `wider`: why a host fault is the account's (for the log). */
  | { ask: 'hold'; reason: HoldReason; evidence: FailureEvidence; wider?: string };

export type Action =
  | { kind: 'finish-applied' }
  | { kind: 'already-applied' }
  /** `call`: 'answered' proves the service and account work (it ends a hold); 'failed' does not. */
  | { kind: 'dead-letter'; reason: 'terminal' | 'retries-exhausted'; call: 'answered' | 'failed' }
  /** A free retry waits until `until` (without using an attempt); a costly one is BullMQ's, with its backoff. */
  | { kind: 'retry'; costsAttempt: false; until: number; streak: number }
  | { kind: 'retry'; costsAttempt: true }
  /** Back behind the operation's gate for `ms`, without using an attempt. */
  | { kind: 'wait-for-hold'; ms: number }
  /** A failed probe: close the gate for `gateMs` and wait until `until`, so the next probe is another job. */
  | { kind: 'step-aside'; gateMs: number; until: number }
  /** The blacklist is full: wait until `until` without using an attempt. */
  | { kind: 'hold-blacklist'; until: number }
  /** This process holds itself: leave the job for another process. */
  | { kind: 'back-to-waiting' };

type Failed = Extract<Answer, { ok: false }>;

/** The operation-hold question a failure raises, if any. */
function holdQuestion(answer: Failed, host: HostFaultVerdict | undefined): Extract<Question, { ask: 'hold' }> | undefined {
  const { outcome, holdReason } = answer.classification;
  switch (outcome) {
    case 'hold-host':
      // Only a fault wider than this process holds the account.
      if (host?.scope !== 'account') return undefined;
      return { ask: 'hold', reason: holdReason ?? 'credentials', evidence: 'service', wider: host.why === 'several-processes' ? 'more than one process meets it' : 'no process of the account succeeds' };
    case 'hold-account':
      return { ask: 'hold', reason: holdReason ?? 'account', evidence: 'service' };
    case 'systemic':
      return { ask: 'hold', reason: 'systemic', evidence: 'service' };
    case 'refused':
      return { ask: 'hold', reason: 'systemic', evidence: 'answered' };
    default:
      return undefined;
  }
}

/** The verdict still missing before decide can answer, or undefined when it has them all. */
export function nextQuestion(facts: Facts): Question | undefined {
  const { answer } = facts;
  if (answer.ok || answer.classification.outcome === 'already-applied') return undefined;
  if (answer.classification.outcome === 'hold-host' && facts.hostVerdict === undefined) return { ask: 'host' };
  const hold = holdQuestion(answer, facts.hostVerdict);
  return hold && facts.holdVerdict === undefined ? hold : undefined;
}

export function decide(facts: Facts): Action {
  const { answer } = facts;
  if (answer.ok) return { kind: 'finish-applied' };
  const { outcome } = answer.classification;
  if (outcome === 'already-applied') return { kind: 'already-applied' };
  if (nextQuestion(facts)) throw new Error(`decide: the ${nextQuestion(facts)!.ask} verdict was not asked for first`);
  if (outcome === 'hold-host' && facts.hostVerdict?.scope === 'local') return { kind: 'back-to-waiting' };

  if (holdQuestion(answer, facts.hostVerdict)) {
    const verdict = facts.holdVerdict!;
    // A refusal is this request's own answer: it uses an attempt below (and leaves the front of the queue).
    if (verdict.verdict !== 'counting' && outcome !== 'refused') {
      const ms = verdict.nextProbeAt - facts.now;
      // A failed probe steps aside, so the next probe is another job: a hold one bad group of jobs caused ends as soon as a good one answers.
      return facts.probe ? { kind: 'step-aside', gateMs: ms, until: verdict.nextProbeAt } : { kind: 'wait-for-hold', ms };
    }
    // A service failure others share (more than one job since the last
    // healthy answer) may be an outage forming: it costs no attempt. A
    // failure only this job meets is its own and counts, so a job the
    // service can never handle still ends in the dead-letter queue.
    if (verdict.verdict === 'counting' && outcome !== 'refused' && verdict.distinctJobs > 1) {
      const delayMs = retryDelayMs(facts.retry, facts.attempt, answer.retryAfterMs, () => facts.jitter);
      return { kind: 'retry', costsAttempt: false, until: facts.now + delayMs, streak: verdict.streak };
    }
  } else {
    if (outcome === 'hold-blacklist' && facts.addsToBlacklist) return { kind: 'hold-blacklist', until: facts.now + facts.blacklistRecheckMs };
    // A terminal code, or a blacklist answer to a call that does not add to the blacklist.
    if (outcome === 'dead-letter' || outcome === 'hold-blacklist') return { kind: 'dead-letter', reason: 'terminal', call: 'answered' };
  }

  if (facts.attempt >= facts.maxAttempts) return { kind: 'dead-letter', reason: 'retries-exhausted', call: 'failed' };
  return { kind: 'retry', costsAttempt: true };
}
