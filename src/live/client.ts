import { randomUUID } from 'node:crypto';
import { API_VERSION, type Operation } from '../catalog/operations.ts';
import type { ParamsByOperation } from '../jobs/schemas.ts';
import { trackRequest } from './request-tracker.ts';
import { sdk, type Credential, type OpenApiModule } from './sdk.ts';
import { CredentialsUnavailableError } from './credential-failure.ts';
import { reportingCredentialFailures } from './credentials.ts';
import { toFailure } from './call-failure.ts';
import type { BlockListPage, CallOptions, LiveApi, LiveCallFailure, LiveCallNotSent, LiveCallResult } from './live-api.ts';

// Importers outside src/live/ take all of the Live API from this module.
export type { Credential } from './sdk.ts';
export { CredentialsUnavailableError } from './credential-failure.ts';
export { providerCredential, profileCredential, staticCredential } from './credentials.ts';
export type { BlockListPage, CallOptions, LiveApi, LiveCallFailure, LiveCallNotSent, LiveCallResult, LiveCallSuccess } from './live-api.ts';

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
  private readonly client: InstanceType<OpenApiModule['default']>;
  private readonly protocol: string;
  private readonly credential: Credential;

  constructor(private readonly options: LiveClientOptions) {
    const { protocol, host } = parseEndpoint(options.endpoint);
    this.protocol = protocol.toUpperCase();
    const { OpenApiClient, OpenApiUtil, Credential } = sdk();
    this.credential = options.credential ?? new Credential();
    this.client = new OpenApiClient(
      new OpenApiUtil.Config({
        credential: reportingCredentialFailures(this.credential),
        endpoint: host,
        protocol,
        regionId: options.regionId,
        readTimeout: options.timeoutMs,
        // The HTTP layer (httpx) also uses the connect timeout as the socket's
        // idle timeout for the whole call: a lower one would cut every answer
        // slower than it, whatever LIVE_TIMEOUT_MS says.
        connectTimeout: options.timeoutMs,
      }),
    );
  }

  async checkCredentials(): Promise<void> {
    try {
      await this.credential.getCredential();
    } catch (error) {
      throw new CredentialsUnavailableError(error, undefined, this.credential);
    }
  }

  async call<O extends Operation>(operation: O, params: ParamsByOperation[O], options: CallOptions = {}): Promise<LiveCallResult> {
    const result = await this.request(operation, params as Record<string, unknown>, options);
    if (!result.ok) return result;
    return { ok: true, requestId: typeof result.body.RequestId === 'string' ? result.body.RequestId : undefined, latencyMs: result.latencyMs };
  }

  /** One page of the account's blacklist for a domain (DescribeLiveStreamsBlockList). */
  async describeBlockList(domainName: string, pageNum: number, pageSize: number, options: CallOptions = {}): Promise<BlockListPage | LiveCallFailure | LiveCallNotSent> {
    const result = await this.request('DescribeLiveStreamsBlockList', { DomainName: domainName, PageNum: pageNum, PageSize: pageSize }, options);
    if (!result.ok) return result;
    const urls = (result.body.StreamUrls as { StreamUrl?: unknown } | undefined)?.StreamUrl;
    return {
      ok: true,
      totalNum: Number(result.body.TotalNum ?? 0),
      totalPage: Number(result.body.TotalPage ?? 0),
      streamUrls: Array.isArray(urls) ? urls.filter((u): u is string => typeof u === 'string') : [],
    };
  }

  private async request(action: string, params: Record<string, unknown>, options: CallOptions): Promise<{ ok: true; body: Record<string, unknown>; latencyMs: number } | LiveCallFailure | LiveCallNotSent> {
    const nonce = randomUUID();
    const request = trackRequest(nonce, options.sendBy);
    const query: Record<string, string> = { RegionId: this.options.regionId };
    for (const [key, value] of Object.entries(params)) if (value !== undefined) query[key] = String(value);
    const started = performance.now();
    const { OpenApiUtil, RuntimeOptions } = sdk();
    try {
      const response = await this.client.callApi(
        new OpenApiUtil.Params({
          action,
          version: API_VERSION,
          protocol: this.protocol,
          pathname: '/',
          method: 'POST',
          authType: 'AK',
          style: 'RPC',
          reqBodyType: 'formData',
          bodyType: 'json',
        }),
        new OpenApiUtil.OpenApiRequest({ query, headers: { 'x-acs-signature-nonce': nonce } }),
        new RuntimeOptions({}),
      );
      const body = (response as { body?: unknown }).body;
      return { ok: true, body: typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {}, latencyMs: performance.now() - started };
    } catch (error) {
      if (request.missed) return { ok: false, notSent: true };
      return toFailure(error, request, performance.now() - started);
    } finally {
      request.done();
    }
  }
}
