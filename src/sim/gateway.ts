import type { Authenticator } from './auth.ts';
import { CONNECTION_DROPPED, type CallRecord } from './call-log.ts';
import { failure, gatewayPage, newRequestId, type Answer } from './errors.ts';
import type { Faults } from './faults.ts';
import { OPERATIONS, type LiveState } from './operations.ts';
import { API_VERSION, isAction, type ResolvedOptions } from './options.ts';
import type { RollingWindowLimiter, WindowDecision } from './rolling-window.ts';
import type { ScriptedRules } from './rules.ts';
import type { SignedRequest } from './signature.ts';

export interface GatewayParts {
  options: ResolvedOptions;
  auth: Authenticator;
  limiter: RollingWindowLimiter;
  rules: ScriptedRules;
  faults: Faults;
  live: LiveState;
  random: () => number;
}

/** What to do with one call: answer (after a delay) or drop the connection; and how to log it. */
export interface Decision {
  answer: Answer | undefined;
  delayMs: number;
  record: CallRecord;
}

/**
 * One API call, in the order the real service handles it: routing and
 * authentication, then flow control (counted at arrival), then the backend,
 * where scripted rules, injected faults and the operation itself decide the
 * answer. Rejections before flow control cost no quota and answer at once.
 */
export function handleCall(parts: GatewayParts, request: SignedRequest, at: number): Decision {
  const requestId = newRequestId();
  const params = requestParams(request);
  const action = request.headers['x-acs-action']?.[0] ?? params.Action ?? '';
  const version = request.headers['x-acs-version']?.[0] ?? params.Version;
  const decided = (answer: Answer | undefined, accessKeyId: string, delayMs = 0, lost = false): Decision => ({
    answer: lost ? undefined : answer,
    delayMs,
    record: {
      at,
      action,
      accessKeyId,
      code: answer?.code ?? CONNECTION_DROPPED,
      status: answer?.status ?? 0,
      requestId,
      params,
      responseLost: lost || answer === undefined,
    },
  });

  if (!isAction(action)) return decided(failure(requestId, 'InvalidAction.NotFound'), '');
  if (version !== API_VERSION) return decided(failure(requestId, 'InvalidVersion'), '');
  const auth = parts.auth.check(request, requestId, at);
  if (!auth.ok) return decided(auth.answer, auth.accessKeyId);
  const { accessKeyId } = auth;

  const window = parts.limiter.tryAcquire(`${accessKeyId}\u0000${action}`, parts.options.qps[action], at);
  if (!window.allowed) return decided(throttled(requestId, window), accessKeyId);

  const delayMs = latency(parts);
  const withQuota = (answer: Answer): Answer => ({
    ...answer,
    headers: { ...answer.headers, 'x-ratelimit-user-api': rateLimitHeader(window) },
  });

  const rule = parts.rules.take(action, params);
  if (rule) {
    const answer = rule.html ? gatewayPage(requestId, rule.status) : failure(requestId, rule.code, { status: rule.status, message: rule.message });
    if (rule.retryAfterMs !== undefined) answer.headers['x-acs-retry-after'] = String(rule.retryAfterMs);
    return decided(withQuota(answer), accessKeyId, delayMs);
  }

  const fault = parts.faults.beforeEffect(at);
  if (fault === 'drop') return decided(undefined, accessKeyId, delayMs);
  if (fault) {
    const answer = fault.html ? gatewayPage(requestId, fault.status ?? 503) : failure(requestId, fault.code, { status: fault.status });
    return decided(withQuota(answer), accessKeyId, delayMs);
  }

  const answer = withQuota(OPERATIONS[action](params, requestId, parts.live, at));
  return decided(answer, accessKeyId, delayMs, parts.faults.dropAfterEffect());
}

/** RPC parameters: the query string, plus a form body if one was sent. */
function requestParams(request: SignedRequest): Record<string, string> {
  const params: Record<string, string> = Object.fromEntries(request.query);
  const type = request.headers['content-type']?.[0] ?? '';
  if (type.startsWith('application/x-www-form-urlencoded')) {
    for (const [key, value] of new URLSearchParams(request.body.toString('utf8'))) params[key] = value;
  }
  return params;
}

function throttled(requestId: string, window: WindowDecision): Answer {
  const answer = failure(requestId, 'Throttling.User');
  answer.headers['x-acs-retry-after'] = String(window.timeLeftMs);
  answer.headers['x-ratelimit-user-api'] = rateLimitHeader(window);
  return answer;
}

/** `Limit:<qps>,Remain:<left>,TimeLeft:<ms until a slot frees>,Reset:<epoch ms>` */
function rateLimitHeader(w: WindowDecision): string {
  return `Limit:${w.limit},Remain:${w.remaining},TimeLeft:${w.timeLeftMs},Reset:${w.resetAt}`;
}

function latency({ options, random }: GatewayParts): number {
  const { min, max } = options.latencyMs;
  return min + Math.floor(random() * (max - min + 1));
}
