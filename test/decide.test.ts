import { describe, expect, it } from 'vitest';
import type { CallOutcome, HoldReason } from '../src/catalog/error-codes.ts';
import type { FailureVerdict } from '../src/holds/holds.ts';
import type { HostFaultVerdict } from '../src/holds/host-faults.ts';
import { decide, nextQuestion, type Action, type Facts, type Question } from '../src/worker/decide.ts';

const now = 1_000_000;
const retry = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 };
/** Half way up the upper half: attempt 2 waits 1.5 s, attempt 3 waits 3 s. */
const jitter = 0.5;

function facts(answer: CallOutcome | 'ok', more: Partial<Facts> & { holdReason?: HoldReason } = {}): Facts {
  const { holdReason, ...rest } = more;
  return {
    answer: answer === 'ok' ? { ok: true } : { ok: false, classification: { outcome: answer, holdReason }, retryAfterMs: 0 },
    probe: false,
    attempt: 1,
    maxAttempts: 3,
    addsToBlacklist: false,
    retry,
    jitter,
    blacklistRecheckMs: 60_000,
    now,
    ...rest,
  };
}

const tripped: FailureVerdict = { verdict: 'tripped', nextProbeAt: now + 5000 };
const held: FailureVerdict = { verdict: 'held', nextProbeAt: now + 8000 };
const shared: FailureVerdict = { verdict: 'counting', streak: 3, distinctJobs: 2, distinctTargets: 2 };
const alone: FailureVerdict = { verdict: 'counting', streak: 1, distinctJobs: 1, distinctTargets: 1 };
const local: HostFaultVerdict = { scope: 'local', since: now };
const several: HostFaultVerdict = { scope: 'account', why: 'several-processes', since: now };
const noneSucceeds: HostFaultVerdict = { scope: 'account', why: 'no-process-succeeds', since: now };

describe('decide: one row per branch', () => {
  it.each<[string, Facts, Action]>([
    ['an applied call finishes applied', facts('ok'), { kind: 'finish-applied' }],
    ['already in place finishes already-applied', facts('already-applied'), { kind: 'already-applied' }],
    ['a terminal code dead-letters at once, as answered', facts('dead-letter'), { kind: 'dead-letter', reason: 'terminal', call: 'answered' }],
    ['a blacklist answer to a ban that does not add to it dead-letters', facts('hold-blacklist'), { kind: 'dead-letter', reason: 'terminal', call: 'answered' }],
    ['a full blacklist holds a ban that adds to it until the re-check', facts('hold-blacklist', { addsToBlacklist: true }), { kind: 'hold-blacklist', until: now + 60_000 }],
    ['a transient failure retries at the cost of an attempt', facts('retry'), { kind: 'retry', costsAttempt: true }],
    ['a transient failure on the last attempt dead-letters, as failed', facts('retry', { attempt: 3 }), { kind: 'dead-letter', reason: 'retries-exhausted', call: 'failed' }],
    ['a host fault this process holds alone: back to waiting', facts('hold-host', { hostVerdict: local }), { kind: 'back-to-waiting' }],
    ['a wider host fault that trips the hold waits for it', facts('hold-host', { hostVerdict: several, holdVerdict: tripped }), { kind: 'wait-for-hold', ms: 5000 }],
    ['an account fault while held: a probe steps aside', facts('hold-account', { probe: true, holdVerdict: held }), { kind: 'step-aside', gateMs: 8000, until: now + 8000 }],
    ['an account fault that trips the hold: a job waits for it', facts('hold-account', { holdVerdict: tripped }), { kind: 'wait-for-hold', ms: 5000 }],
    ['a service failure other jobs share retries free', facts('systemic', { attempt: 2, holdVerdict: shared }), { kind: 'retry', costsAttempt: false, until: now + 1500, streak: 3 }],
    ['a service failure shared on the last attempt still retries free', facts('systemic', { attempt: 3, holdVerdict: shared }), { kind: 'retry', costsAttempt: false, until: now + 3000, streak: 3 }],
    ['a service failure only this job meets costs an attempt', facts('systemic', { holdVerdict: alone }), { kind: 'retry', costsAttempt: true }],
    ['a service failure only this job meets, on its last attempt, dead-letters', facts('systemic', { attempt: 3, holdVerdict: alone }), { kind: 'dead-letter', reason: 'retries-exhausted', call: 'failed' }],
    ['a refusal others share still costs an attempt', facts('refused', { holdVerdict: shared }), { kind: 'retry', costsAttempt: true }],
    ['a refusal that trips the hold still costs this job an attempt', facts('refused', { holdVerdict: tripped }), { kind: 'retry', costsAttempt: true }],
    ['a refusal on the last attempt dead-letters, as failed', facts('refused', { attempt: 3, holdVerdict: held, probe: true }), { kind: 'dead-letter', reason: 'retries-exhausted', call: 'failed' }],
  ])('%s', (_, given, action) => {
    expect(nextQuestion(given)).toBeUndefined();
    expect(decide(given)).toEqual(action);
  });

  it('takes the server hint as the floor of a free retry', () => {
    const given = facts('systemic', { holdVerdict: shared });
    if (!given.answer.ok) given.answer.retryAfterMs = 30_000;
    expect(decide(given)).toEqual({ kind: 'retry', costsAttempt: false, until: now + 30_000, streak: 3 });
  });
});

describe('nextQuestion: the verdict decide needs first', () => {
  it.each<[string, Facts, Question | undefined]>([
    ['none for an applied call', facts('ok'), undefined],
    ['none for already applied', facts('already-applied'), undefined],
    ['none for a terminal code', facts('dead-letter'), undefined],
    ['none for a transient failure', facts('retry'), undefined],
    ['none for a full blacklist', facts('hold-blacklist', { addsToBlacklist: true }), undefined],
    ['the host first for a host fault', facts('hold-host', { holdReason: 'credentials' }), { ask: 'host' }],
    ['none once the host holds itself alone', facts('hold-host', { hostVerdict: local }), undefined],
    ['the hold, as credentials, when several processes meet it', facts('hold-host', { hostVerdict: several }), { ask: 'hold', reason: 'credentials', evidence: 'service', wider: 'more than one process meets it' }],
    ["the hold, as the rule's reason, when no process succeeds", facts('hold-host', { hostVerdict: noneSucceeds, holdReason: 'account' }), { ask: 'hold', reason: 'account', evidence: 'service', wider: 'no process of the account succeeds' }],
    ['the hold, as the account, for an account fault', facts('hold-account'), { ask: 'hold', reason: 'account', evidence: 'service' }],
    ["the hold, as the rule's reason, for an account fault", facts('hold-account', { holdReason: 'credentials' }), { ask: 'hold', reason: 'credentials', evidence: 'service' }],
    ['the hold, as systemic, for a service failure', facts('systemic'), { ask: 'hold', reason: 'systemic', evidence: 'service' }],
    ['the hold, as systemic with an answer as evidence, for a refusal', facts('refused'), { ask: 'hold', reason: 'systemic', evidence: 'answered' }],
    ['none once the hold answered', facts('systemic', { holdVerdict: alone }), undefined],
  ])('%s', (_, given, question) => {
    expect(nextQuestion(given)).toEqual(question);
  });

  it('refuses to decide before a verdict it needs was asked for', () => {
    expect(() => decide(facts('systemic'))).toThrow('the hold verdict was not asked for first');
    expect(() => decide(facts('hold-host'))).toThrow('the host verdict was not asked for first');
  });
});
