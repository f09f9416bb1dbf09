import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { API_VERSION, type Operation } from '../catalog/operations.ts';
import type { ParamsByOperation } from '../jobs/schemas.ts';
import { trackRequest, type TrackedRequest } from './request-tracker.ts';
import { LivequeueError } from '../errors.ts';

/**
 * The Live API as the rest of the product sees it: two operations, our own
 * types in and out, and failures returned as data (never thrown), so the
 * worker can look them up in the error-code table. The generated
 * `@alicloud/live20161101` SDK could implement this interface instead.
 */
// The SDK packages are CommonJS compiled from TypeScript with the class on
// `exports.default`; loaders disagree on what a default import of them is,
// so take the class from require() explicitly. They are loaded when a client
// or a credential is first made, not with this module: together they take
// longer to load than the rest of a command that never calls the API
// (`status`, `dlq`, `--help`), which imports this module for its types and errors.
const require = createRequire(import.meta.url);
type OpenApiModule = typeof import('@alicloud/openapi-core');
type CredentialsModule = typeof import('@alicloud/credentials');
type DaraModule = typeof import('@darabonba/typescript');
interface Sdk {
  OpenApiClient: OpenApiModule['default'];
  OpenApiUtil: OpenApiModule['$OpenApiUtil'];
  AlibabaCloudError: OpenApiModule['AlibabaCloudError'];
  RuntimeOptions: DaraModule['RuntimeOptions'];
  Credential: CredentialsModule['default'];
  CredentialConfig: CredentialsModule['Config'];
  ProfileCredentialsProvider: CredentialsModule['ProfileCredentialsProvider'];
}
let loaded: Sdk | undefined;
function sdk(): Sdk {
  if (!loaded) {
    const openApi = require('@alicloud/openapi-core') as OpenApiModule;
    const credentials = require('@alicloud/credentials') as CredentialsModule;
    const dara = require('@darabonba/typescript') as DaraModule;
    loaded = {
      OpenApiClient: openApi.default,
      OpenApiUtil: openApi.$OpenApiUtil,
      AlibabaCloudError: openApi.AlibabaCloudError,
      RuntimeOptions: dara.RuntimeOptions,
      Credential: credentials.default,
      CredentialConfig: credentials.Config,
      ProfileCredentialsProvider: credentials.ProfileCredentialsProvider,
    };
  }
  return loaded;
}
export type Credential = InstanceType<CredentialsModule['default']>;
type CredentialsProvider = ConstructorParameters<CredentialsModule['default']>[1];

export interface LiveApi {
  call<O extends Operation>(operation: O, params: ParamsByOperation[O], options?: CallOptions): Promise<LiveCallResult>;
  /**
   * Resolves the credentials once, without calling the API; rejects with a
   * CredentialsUnavailableError that says what to set when none can be found.
   */
  checkCredentials(): Promise<void>;
}

/**
 * The credential chain could not produce credentials. Raised by our wrapper
 * around the credentials library, so a failure to sign is never mistaken for
 * a network error.
 *
 * Its message holds no text from the chain: the library's own error text can
 * embed what a credential source answered (a credentials URI's JSON, an STS
 * or metadata body), secrets included. It names the providers the chain tried
 * and a fixed reason recognised in that text instead; the library's error
 * itself is dropped here, so no log, hold, status or HTTP answer can carry it.
 */
export class CredentialsUnavailableError extends LivequeueError {
  /** Which providers were tried and why they failed, in fixed words. */
  readonly detail: string;

  constructor(
    reason: unknown,
    /** The account whose credentials failed, when a process serves several. */
    account?: string,
    /** The credential that failed: its providers are named. */
    credential?: Credential,
  ) {
    const detail = reason instanceof CredentialsUnavailableError ? reason.detail : describeCredentialFailure(reason, credential);
    super(
      'credentials-unavailable',
      `no usable Alibaba Cloud credentials${account ? ` for account "${account}"` : ''} (${detail}); ` +
        'set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, a profile (ALIBABA_CLOUD_PROFILE with ~/.alibabacloud/credentials or ALIBABA_CLOUD_CREDENTIALS_FILE), or a RAM role (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_ECS_METADATA); with LIVEQUEUE_ACCOUNTS_FILE, each account\'s profile',
    );
    this.detail = detail;
  }
}

/** What each provider of the credentials library reads, by its getProviderName(). */
const PROVIDER_SOURCES: Partial<Record<string, string>> = {
  env: 'env (ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET)',
  oidc_role_arn: 'oidc_role_arn (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE)',
  cli_profile: 'cli_profile (~/.aliyun/config.json)',
  profile: 'profile (ALIBABA_CLOUD_CREDENTIALS_FILE or ~/.alibabacloud/credentials)',
  ecs_ram_role: 'ecs_ram_role (ECS instance metadata)',
  credential_uri: 'credential_uri (ALIBABA_CLOUD_CREDENTIALS_URI)',
  credentials_uri: 'credentials_uri',
};

/**
 * Fixed reasons, recognised in the library's error text (the default chain
 * joins every provider's). Only these words, digits and system error codes
 * leave this module; the text they were found in never does.
 */
const FAILURE_REASONS: [RegExp, (match: RegExpExecArray) => string][] = [
  [/Access key (?:ID|secret) must be specified/i, () => 'ALIBABA_CLOUD_ACCESS_KEY_ID or ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set'],
  [/reading aliyun cli config from .* failed/i, () => 'no readable Alibaba Cloud CLI config'],
  [/\bENOENT\b/, () => 'a credentials file does not exist'],
  [/\bEACCES\b/, () => 'a credentials file cannot be read'],
  [/Can ?not find (?:credential type|profile)|not found profile|profile .* (?:not found|does not exist)/i, () => 'the profile is not in the credentials file'],
  [/credentialsURI result/, () => 'the credentials URI answered without all of AccessKeyId, AccessKeySecret and SecurityToken'],
  [/json parse failed|unmarshal fail/i, () => 'a credential source answered something that is not JSON'],
  [/httpStatus:\s*(\d{3})|failed with (\d{3})\b/, (m) => `a credential source answered HTTP ${m[1] ?? m[2]}`],
  [/Code is not Success/, () => 'the instance metadata answered without Code "Success"'],
  [/invalid (?:UTC format|year|month|date|hours|minutes|seconds|ms)/i, () => 'a credential source answered an Expiration that is not a UTC time'],
  [/undefinedGET|Invalid URL/i, () => 'no credentials URI is set'],
  [/\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND(?! undefined)|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE)\b/, (m) => `a credential source could not be reached (${m[1]})`],
  [/timeout/i, () => 'a credential source timed out'],
  [/roleArn does not exist|ALIBABA_CLOUD_ROLE_ARN is null/i, () => 'ALIBABA_CLOUD_ROLE_ARN is not set'],
];

const SAFE_NAME = /^[A-Za-z][\w./-]{0,39}$/;

/** Providers, failure reasons and error class, without a word of the error's own text. */
function describeCredentialFailure(error: unknown, credential?: Credential): string {
  const text = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  const reasons: string[] = [];
  for (const [pattern, reason] of FAILURE_REASONS) {
    const match = pattern.exec(text);
    if (match && !reasons.includes(reason(match))) reasons.push(reason(match));
  }
  const kind = error instanceof Error && error.name !== 'Error' && SAFE_NAME.test(error.name) ? error.name : undefined;
  const code = (error as { code?: unknown } | null)?.code;
  const facts = [kind, typeof code === 'string' && SAFE_NAME.test(code) ? code : undefined].filter(Boolean).join(' ');
  const why = reasons.length > 0 ? reasons.join('; ') : 'the provider failed; its message is withheld as it can hold credential material';
  const providers = credential ? chainProviders(credential) : [];
  return `${providers.length > 0 ? `tried ${providers.join(', ')}: ` : ''}${why}${facts ? ` [${facts}]` : ''}`;
}

/** The providers a credential draws on, from the credentials library's objects (their names are the library's constants). */
function chainProviders(credential: Credential): string[] {
  type Provider = { getProviderName?: () => unknown; providers?: unknown; credentialsURI?: unknown };
  const inner = (credential as unknown as { credential?: { provider?: Provider; getType?: () => unknown } }).credential;
  const provider = inner?.provider;
  const list: Provider[] = Array.isArray(provider?.providers) ? (provider.providers as Provider[]) : provider ? [provider] : [];
  const names = list.map((p) => {
    const name = typeof p.getProviderName === 'function' ? p.getProviderName() : undefined;
    if (typeof name !== 'string' || !SAFE_NAME.test(name)) return 'custom provider';
    const source = PROVIDER_SOURCES[name] ?? name;
    return name === 'credential_uri' && !p.credentialsURI ? 'credential_uri (ALIBABA_CLOUD_CREDENTIALS_URI not set)' : source;
  });
  if (names.length > 0) return names;
  const type = inner?.getType?.();
  return typeof type === 'string' && SAFE_NAME.test(type) ? [type] : [];
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
  /** True when an answer arrived but its body was not JSON (a gateway's HTML page). */
  bodyNotJson?: boolean;
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

export interface BlockListPage {
  ok: true;
  totalNum: number;
  totalPage: number;
  /** `domain/app/stream` of each banned stream on this page. */
  streamUrls: string[];
}

/**
 * The core client's error as our failure. `x-acs-retry-after` is read as
 * milliseconds: openapi-core parses it with parseInt and its retry policy
 * (@darabonba/typescript getBackoffDelay) compares it with delays in ms.
 */
function toFailure(error: unknown, request: TrackedRequest, latencyMs: number): LiveCallFailure {
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

/**
 * The credential the core client signs with, wrapped so that a failure to
 * resolve it (no source, an STS refresh that failed) surfaces as
 * CredentialsUnavailableError instead of whatever the provider threw.
 */
function reportingCredentialFailures(credential: Credential): Credential {
  return new Proxy(credential, {
    get(target, property, receiver) {
      if (property !== 'getCredential') return Reflect.get(target, property, receiver) as unknown;
      return async () => {
        try {
          return await target.getCredential();
        } catch (error) {
          throw new CredentialsUnavailableError(error, undefined, target);
        }
      };
    },
  });
}

/** Credentials from any provider of the credentials library's kind (a profile, an STS source, a vault). */
export function providerCredential(provider: NonNullable<CredentialsProvider>): Credential {
  return new (sdk().Credential)(null, provider);
}

/** The named profile of the Alibaba Cloud credentials file, read by the credentials library. */
export function profileCredential(profile: string): Credential {
  return providerCredential(sdk().ProfileCredentialsProvider.builder().withProfileName(profile).build());
}

/** A fixed AccessKey pair (the demo and tests use one the simulator knows); production uses the default chain. */
export function staticCredential(accessKeyId: string, accessKeySecret: string): Credential {
  const { Credential, CredentialConfig } = sdk();
  return new Credential(new CredentialConfig({ type: 'access_key', accessKeyId, accessKeySecret }));
}
