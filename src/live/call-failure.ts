import type { TrackedRequest } from './request-tracker.ts';
import type { LiveCallFailure } from './live-api.ts';
import { sdk } from './sdk.ts';
import { CredentialsUnavailableError } from './credential-failure.ts';

/**
 * The core client's error as our failure. `x-acs-retry-after` is read as
 * milliseconds: openapi-core parses it with parseInt and its retry policy
 * (@darabonba/typescript getBackoffDelay) compares it with delays in ms.
 */
export function toFailure(error: unknown, request: TrackedRequest, latencyMs: number): LiveCallFailure {
  const { AlibabaCloudError } = sdk();
  if (error instanceof AlibabaCloudError && error.statusCode !== undefined) {
    const sdkHint = (error as { retryAfter?: number }).retryAfter;
    const retryAfterMs = [sdkHint, request.retryAfterMs].filter((v): v is number => typeof v === 'number' && v >= 0);
    const data = (error as { data?: { Message?: unknown } }).data;
    return {
      ok: false,
      // The core client writes a missing Code as the string "undefined".
      code: error.code && error.code !== 'undefined' ? error.code : `HTTP${error.statusCode}`,
      // The core client prefixes its own wording; the API's message is in the body.
      message: typeof data?.Message === 'string' ? data.Message : error.message,
      httpStatus: error.statusCode,
      requestId: error.requestId && error.requestId !== 'undefined' ? error.requestId : undefined,
      network: false,
      retryAfterMs: retryAfterMs.length > 0 ? Math.max(...retryAfterMs) : undefined,
      latencyMs,
    };
  }
  if (error instanceof CredentialsUnavailableError) {
    return { ok: false, code: 'CredentialsUnavailable', message: error.message, network: false, latencyMs };
  }
  if (error instanceof AlibabaCloudError) {
    // Raised before any request was sent, e.g. no credential object at all.
    return { ok: false, code: error.code || 'ClientError', message: error.message, network: false, latencyMs };
  }
  if (request.status !== undefined) {
    // An answer arrived but the core client could not read it as JSON: a
    // gateway's or proxy's error page. Its status says what it is; it is not a network error.
    return {
      ok: false,
      code: `HTTP${request.status}`,
      message: `HTTP ${request.status} with a body that is not JSON (a gateway or proxy answered)`,
      httpStatus: request.status,
      network: false,
      bodyNotJson: true,
      retryAfterMs: request.retryAfterMs,
      latencyMs,
    };
  }
  const err = error as { code?: unknown; name?: unknown; message?: unknown };
  const detail = typeof err.code === 'string' ? err.code : typeof err.name === 'string' ? err.name : 'Error';
  return {
    ok: false,
    code: 'NetworkError',
    message: `${detail}: ${typeof err.message === 'string' ? err.message : String(error)}`,
    network: true,
    latencyMs,
  };
}
