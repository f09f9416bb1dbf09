/**
 * What each answer of the Live API means for a job. This table is the single
 * place that decides it; the worker only looks outcomes up here. Rules are
 * tried in order and the first match wins, so specific codes come before the
 * catch-all HTTP status classes.
 */
export type CallOutcome =
  /** Transient: back off and try again through the same token bucket. */
  | 'retry'
  /** The effect is already in place (ban exists, monitor stopped): success. */
  | 'already-applied'
  /** Can never succeed as sent: dead-letter at once. */
  | 'dead-letter'
  /**
   * The account itself is failing (credentials, permissions): every job of
   * the operation would fail the same way, so pause it instead of burning
   * the backlog into the dead-letter queue.
   */
  | 'pause-operation'
  /** The 10,000-stream blacklist is full: hold the bans that add to it; interrupt-only bans go on. */
  | 'pause-blacklist';

export interface FailedCall {
  code: string;
  httpStatus?: number;
  /** True when no HTTP answer arrived: refused, reset, dropped, timed out. */
  network: boolean;
}

interface ErrorRule {
  readonly describe: string;
  readonly matches: (failure: FailedCall) => boolean;
  readonly outcome: CallOutcome;
  /** The answer says the account's quota is exhausted: slow the bucket down. */
  readonly throttled?: boolean;
}

const code = (name: string) => (f: FailedCall) => f.code === name;

/** Codes that speak of the caller's credentials or permissions rather than of one job. */
const ACCOUNT_LEVEL = /^(InvalidAccessKeyId(\..+)?|SignatureDoesNotMatch|IncompleteSignature|InvalidSecurityToken(\..+)?|InvalidCredentials|NoPermission|Forbidden\..+)$/;

export const ERROR_RULES: readonly ErrorRule[] = [
  { describe: 'ConfigAlreadyExists (stream already forbidden)', matches: code('ConfigAlreadyExists'), outcome: 'already-applied' },
  { describe: 'StreamMonitorAlreadyStop', matches: code('StreamMonitorAlreadyStop'), outcome: 'already-applied' },
  { describe: 'account-level: credentials, signature or permission codes', matches: (f) => ACCOUNT_LEVEL.test(f.code), outcome: 'pause-operation' },
  { describe: 'QuotaExceeded.Blacklist (the blacklist holds 10,000 streams)', matches: code('QuotaExceeded.Blacklist'), outcome: 'pause-blacklist' },
  { describe: 'any code containing Throttling', matches: (f) => f.code.includes('Throttling'), outcome: 'retry', throttled: true },
  { describe: 'InternalError', matches: code('InternalError'), outcome: 'retry' },
  { describe: 'ServiceUnavailable', matches: code('ServiceUnavailable'), outcome: 'retry' },
  { describe: 'network errors and timeouts', matches: (f) => f.network, outcome: 'retry' },
  { describe: 'any HTTP 5xx', matches: (f) => (f.httpStatus ?? 0) >= 500, outcome: 'retry' },
  { describe: 'any other code (4xx and unknown)', matches: () => true, outcome: 'dead-letter' },
];

export interface Classification {
  outcome: CallOutcome;
  throttled: boolean;
  rule: string;
}

export function classifyFailure(failure: FailedCall): Classification {
  const rule = ERROR_RULES.find((r) => r.matches(failure));
  // The table ends in a catch-all, so a rule is always found.
  const found = rule ?? ERROR_RULES[ERROR_RULES.length - 1]!;
  return { outcome: found.outcome, throttled: found.throttled === true, rule: found.describe };
}
