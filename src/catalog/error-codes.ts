/**
 * What each answer of the Live API means. This table is the single place that
 * decides it; the worker only looks outcomes up here. Rules are tried in order
 * and the first match wins, so specific codes come before the catch-alls.
 *
 * Every failure is about one of four things, and only the first may
 * dead-letter a job:
 * - the job (a bad parameter, a domain or monitor that does not exist,
 *   something already done): its own outcome;
 * - the host (its AccessKey, its signature, its clock, its credential
 *   chain): that process holds itself first; the account is held only when
 *   more than one process sees it, or none succeeds (worker/host-hold.ts);
 * - the account (permissions, the caller's quota, the blacklist cap): the
 *   operation is held at once;
 * - the service (5xx, network, a gateway's HTML page, a gateway code): counts
 *   toward the systemic hold (see holds/holds.ts).
 * A code nobody listed is decided by evidence, not by the list: a
 * well-formed answer about one request (HTTP 4xx, JSON, a RequestId) is the
 * service refusing that request, so it uses the job's attempts and ends as a
 * replayable dead letter; it holds the operation only when the same code
 * spans different targets. Anything less well-formed counts as the service's.
 */
export type CallOutcome =
  /** Per job: the effect is already in place (ban exists, monitor stopped): success. */
  | 'already-applied'
  /** Per job: can never succeed as sent: dead-letter at once. */
  | 'dead-letter'
  /**
   * Per job, by evidence: a code nobody listed, answered about this request.
   * Uses the job's attempts, then dead-letters it; one code refusing
   * different targets holds the operation (queue/hold.lua).
   */
  | 'refused'
  /** Per job, transient: back off and try again through the same token bucket. */
  | 'retry'
  /** The host: this process's credentials, signature or clock. Hold the process; the account only if the fault is wider. */
  | 'hold-host'
  /** The account: every job of the operation would fail the same way, so hold it at once and probe. */
  | 'hold-account'
  /** The 10,000-stream blacklist is full: hold the bans that add to it; interrupt-only bans go on. */
  | 'hold-blacklist'
  /** The service: one such answer proves little; many in a row, across jobs, hold the operation. */
  | 'systemic';

/** Why an operation is held; the label of livequeue_operation_held. */
export const HOLD_REASONS = ['systemic', 'credentials', 'account', 'blacklist', 'manual'] as const;
export type HoldReason = (typeof HOLD_REASONS)[number];

export interface FailedCall {
  code: string;
  httpStatus?: number;
  /** True when no HTTP answer arrived: refused, reset, dropped, timed out. */
  network: boolean;
  /** True when the error body was not JSON (a gateway's or proxy's HTML page). */
  bodyNotJson?: boolean;
  /** The API's id for the request: present when the service itself answered. */
  requestId?: string;
}

interface ErrorRule {
  readonly describe: string;
  readonly matches: (failure: FailedCall) => boolean;
  readonly outcome: CallOutcome;
  /** The answer says the account's quota is exhausted: slow the bucket down. */
  readonly throttled?: boolean;
  /** For 'hold-host' and 'hold-account': which kind of failure, for status and the gauge. */
  readonly holdReason?: HoldReason;
  /** Said in the log when the hold trips: what the operator should look at. */
  readonly hint?: string;
}

const code = (...names: string[]) => (f: FailedCall) => names.includes(f.code);
const pattern = (re: RegExp) => (f: FailedCall) => re.test(f.code);
/**
 * The service itself answered this one request, in its own format: a 4xx
 * status, a JSON body with a Code, and the API's RequestId. A proxy, a
 * gateway page or a dropped connection shows none of this.
 */
function answeredAboutRequest(f: FailedCall): boolean {
  const httpStatus = f.httpStatus ?? 0;
  return httpStatus >= 400 && httpStatus < 500 && !f.network && f.bodyNotJson !== true && f.requestId !== undefined && !/^HTTP\d+$/.test(f.code);
}

const status = (...statuses: number[]) => (f: FailedCall) => f.httpStatus !== undefined && statuses.includes(f.httpStatus);

/**
 * Parameter errors: the gateway's generic ones and the pattern the API pages
 * use (`Invalid<Name>.Malformed`, `Missing<Name>`). Account-level `Invalid…`
 * codes are matched before this rule is reached.
 */
const PARAMETER_ERROR = /^(MissingParameter|Missing[A-Z][A-Za-z]*|InvalidParameter(\..+)?|Invalid[A-Za-z]+\.(Malformed|ValueNotSupported|LengthLimit))$/;

export const ERROR_RULES: readonly ErrorRule[] = [
  // The job.
  { describe: 'ConfigAlreadyExists (stream already forbidden)', matches: code('ConfigAlreadyExists'), outcome: 'already-applied' },
  { describe: 'StreamMonitorAlreadyStop', matches: code('StreamMonitorAlreadyStop'), outcome: 'already-applied' },
  // Throttling, by code or by status (a 429 from a proxy has no Alibaba code).
  { describe: 'any code containing Throttling, or HTTP 429', matches: (f) => f.code.includes('Throttling') || status(429)(f), outcome: 'retry', throttled: true },
  { describe: 'HTTP 408 (request timeout at the gateway)', matches: status(408), outcome: 'retry' },
  // Every call carries a fresh nonce, so a clash is a fluke of the gateway's cache: send again.
  { describe: 'SignatureNonceUsed', matches: code('SignatureNonceUsed'), outcome: 'retry' },
  // The host.
  {
    describe: "the host's clock: InvalidTimeStamp.Expired / .Format",
    matches: pattern(/^InvalidTimeStamp\..+$/),
    outcome: 'hold-host',
    holdReason: 'credentials',
    hint: "the host's clock is off: every signed request carries a timestamp the API checks; fix the clock (NTP)",
  },
  {
    describe: 'credentials: AccessKey, signature, security token, credential chain',
    matches: pattern(/^(InvalidAccessKeyId(\..+)?|SignatureDoesNotMatch|IncompleteSignature|InvalidSecurityToken(\..+)?|MissingSecurityToken|InvalidCredentials|CredentialsUnavailable)$/),
    outcome: 'hold-host',
    holdReason: 'credentials',
    hint: 'check the AccessKey (or RAM role / STS token) this worker uses',
  },
  // The account.
  {
    describe: "the caller's permissions and quota: Forbidden*, NoPermission, IllegalOperation, UserQuotaExceed, InvalidUserId.Malformed",
    matches: pattern(/^(Forbidden(\..+)?|NoPermission(\..+)?|IllegalOperation|UserQuotaExceed|InvalidUserId\.Malformed)$/),
    outcome: 'hold-account',
    holdReason: 'account',
    hint: "check the RAM permissions and quotas of the account's AccessKey",
  },
  { describe: 'QuotaExceeded.Blacklist (the blacklist holds 10,000 streams)', matches: code('QuotaExceeded.Blacklist'), outcome: 'hold-blacklist' },
  // The service: the gateway, the network, the backend.
  { describe: 'gateway routing: InvalidAction.NotFound, InvalidVersion', matches: code('InvalidAction.NotFound', 'InvalidVersion'), outcome: 'systemic' },
  { describe: 'network errors and timeouts', matches: (f) => f.network, outcome: 'systemic' },
  { describe: 'an error body that is not JSON (a gateway or proxy page), by its status', matches: (f) => f.bodyNotJson === true, outcome: 'systemic' },
  { describe: 'any HTTP 5xx (InternalError, ServiceUnavailable, ...)', matches: (f) => (f.httpStatus ?? 0) >= 500, outcome: 'systemic' },
  // The job, once more: codes the API pages list as being about the request's own parameters.
  { describe: "parameter errors (MissingParameter, InvalidParameter, Invalid<Name>.Malformed, ...)", matches: pattern(PARAMETER_ERROR), outcome: 'dead-letter' },
  { describe: 'InvalidResumeTime.Malformed, InvalidMonitorId.Malformed', matches: code('InvalidResumeTime.Malformed', 'InvalidMonitorId.Malformed'), outcome: 'dead-letter' },
  { describe: 'StreamMonitorNotExist', matches: code('StreamMonitorNotExist'), outcome: 'dead-letter' },
  // From the Live API's published error-code list: the request names a domain, app or stream this account does not have.
  {
    describe: 'a domain, app or stream the account does not have: InvalidDomain.NotFound, AppInfoNotExist, Invalid<Name>.NotFound',
    matches: pattern(/^(InvalidDomain\.NotFound|AppInfoNotExist|Invalid(App|AppName|Stream|StreamName)\.NotFound)$/),
    outcome: 'dead-letter',
  },
  // Nobody listed the code: decided by the answer's form, not by the list.
  { describe: 'any other code, answered about this request (HTTP 4xx, JSON, a RequestId)', matches: answeredAboutRequest, outcome: 'refused' },
  { describe: 'any other answer: nobody listed it and it is not shown to be about the request', matches: () => true, outcome: 'systemic' },
];

export interface Classification {
  outcome: CallOutcome;
  throttled: boolean;
  rule: string;
  holdReason?: HoldReason;
  hint?: string;
}

export function classifyFailure(failure: FailedCall): Classification {
  const rule = ERROR_RULES.find((r) => r.matches(failure));
  // The table ends in a catch-all, so a rule is always found.
  const found = rule ?? ERROR_RULES[ERROR_RULES.length - 1]!;
  return { outcome: found.outcome, throttled: found.throttled === true, rule: found.describe, holdReason: found.holdReason, hint: found.hint };
}
