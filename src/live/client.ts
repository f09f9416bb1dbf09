import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Config as CredentialConfig } from '@alicloud/credentials';
import { $OpenApiUtil, AlibabaCloudError } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';
import { API_VERSION, type Operation } from './operations.ts';
import type { ParamsByOperation } from '../jobs/schemas.ts';
import { trackRequest } from './request-tracker.ts';

/**
 * The Live API as the rest of the product sees it: two operations, our own
 * types in and out, and failures returned as data (never thrown), so the
 * worker can look them up in the error-code table. The generated
 * `@alicloud/live20161101` SDK could implement this interface instead.
 */
// Both packages are CommonJS compiled from TypeScript with the class on
// `exports.default`; loaders disagree on what a default import of them is,
// so take the class from require() explicitly.
const require = createRequire(import.meta.url);
const OpenApiClient = (require('@alicloud/openapi-core') as typeof import('@alicloud/openapi-core')).default;
const Credential = (require('@alicloud/credentials') as typeof import('@alicloud/credentials')).default;
type Credential = InstanceType<typeof Credential>;

export interface LiveApi {
  call<O extends Operation>(operation: O, params: ParamsByOperation[O], options?: CallOptions): Promise<LiveCallResult>;
}

export interface CallOptions {
  /** performance.now() after which the request must not leave; see request-tracker.ts. */
  sendBy?: number;
}

export type LiveCallResult = LiveCallSuccess | LiveCallFailure | LiveCallNotSent;

/** The request missed its send deadline and was never sent: no effect, no answer. */
export interface LiveCallNotSent {
  ok: false;
  notSent: true;
}

export interface LiveCallSuccess {
  ok: true;
  requestId?: string;
  latencyMs: number;
}

export interface LiveCallFailure {
  ok: false;
  notSent?: false;
  code: string;
  message: string;
  httpStatus?: number;
  requestId?: string;
  /** True when no HTTP answer arrived (refused, reset, dropped, timed out). */
  network: boolean;
  /** The server's own hint on when to try again, in ms. */
  retryAfterMs?: number;
  latencyMs: number;
}

export interface LiveClientOptions {
  /** `live.aliyuncs.com` (HTTPS) or a full URL such as `http://127.0.0.1:8787`. */
  endpoint: string;
  regionId: string;
  /** Read timeout for one call; a timed-out call is a retryable network error. */
  timeoutMs: number;
  /** Defaults to the credentials library's default chain (env, profile, RAM role). */
  credential?: Credential;
}

export function parseEndpoint(endpoint: string): { protocol: 'http' | 'https'; host: string } {
  const match = /^(https?):\/\/([^/]+)\/?$/.exec(endpoint);
  if (match) return { protocol: match[1] as 'http' | 'https', host: match[2]! };
  return { protocol: 'https', host: endpoint };
}

export class AlibabaLiveClient implements LiveApi {
  private readonly client: InstanceType<typeof OpenApiClient>;
  private readonly protocol: string;

  constructor(private readonly options: LiveClientOptions) {
    const { protocol, host } = parseEndpoint(options.endpoint);
    this.protocol = protocol.toUpperCase();
    this.client = new OpenApiClient(
      new $OpenApiUtil.Config({
        credential: options.credential ?? new Credential(),
        endpoint: host,
        protocol,
        regionId: options.regionId,
        readTimeout: options.timeoutMs,
        connectTimeout: Math.min(options.timeoutMs, 5_000),
      }),
    );
  }

  async call<O extends Operation>(operation: O, params: ParamsByOperation[O], options: CallOptions = {}): Promise<LiveCallResult> {
    const nonce = randomUUID();
    const request = trackRequest(nonce, options.sendBy);
    const query: Record<string, string> = { RegionId: this.options.regionId };
    for (const [key, value] of Object.entries(params)) if (value !== undefined) query[key] = String(value);
    const started = performance.now();
    try {
      const response = await this.client.callApi(
        new $OpenApiUtil.Params({
          action: operation,
          version: API_VERSION,
          protocol: this.protocol,
          pathname: '/',
          method: 'POST',
          authType: 'AK',
          style: 'RPC',
          reqBodyType: 'formData',
          bodyType: 'json',
        }),
        new $OpenApiUtil.OpenApiRequest({ query, headers: { 'x-acs-signature-nonce': nonce } }),
        new $dara.RuntimeOptions({}),
      );
      const body = (response as { body?: { RequestId?: unknown } }).body;
      return { ok: true, requestId: typeof body?.RequestId === 'string' ? body.RequestId : undefined, latencyMs: performance.now() - started };
    } catch (error) {
      if (request.missed) return { ok: false, notSent: true };
      return toFailure(error, request.retryAfterMs, performance.now() - started);
    } finally {
      request.done();
    }
  }
}

function toFailure(error: unknown, headerHint: number | undefined, latencyMs: number): LiveCallFailure {
  if (error instanceof AlibabaCloudError && error.statusCode !== undefined) {
    const sdkHint = (error as { retryAfter?: number }).retryAfter;
    const retryAfterMs = [sdkHint, headerHint].filter((v): v is number => typeof v === 'number' && v >= 0);
    const data = (error as { data?: { Message?: unknown } }).data;
    return {
      ok: false,
      code: error.code || `HTTP${error.statusCode}`,
      // The core client prefixes its own wording; the API's message is in the body.
      message: typeof data?.Message === 'string' ? data.Message : error.message,
      httpStatus: error.statusCode,
      requestId: error.requestId && error.requestId !== 'undefined' ? error.requestId : undefined,
      network: false,
      retryAfterMs: retryAfterMs.length > 0 ? Math.max(...retryAfterMs) : undefined,
      latencyMs,
    };
  }
  if (error instanceof AlibabaCloudError) {
    // Raised before any request was sent, e.g. no usable credentials.
    return { ok: false, code: error.code || 'ClientError', message: error.message, network: false, latencyMs };
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

/** A fixed AccessKey pair (the demo and tests use one the simulator knows); production uses the default chain. */
export function staticCredential(accessKeyId: string, accessKeySecret: string): Credential {
  return new Credential(new CredentialConfig({ type: 'access_key', accessKeyId, accessKeySecret }));
}
