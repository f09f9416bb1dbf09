import type { Credential } from './sdk.ts';
import { LivequeueError } from '../errors.ts';

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
