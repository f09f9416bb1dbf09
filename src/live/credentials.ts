import { sdk, type Credential, type CredentialsProvider } from './sdk.ts';
import { CredentialsUnavailableError } from './credential-failure.ts';

/**
 * The credential the core client signs with, wrapped so that a failure to
 * resolve it (no source, an STS refresh that failed) surfaces as
 * CredentialsUnavailableError instead of whatever the provider threw.
 */
export function reportingCredentialFailures(credential: Credential): Credential {
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
