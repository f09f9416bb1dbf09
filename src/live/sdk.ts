import { createRequire } from 'node:module';

// The SDK packages are CommonJS compiled from TypeScript with the class on
// `exports.default`; loaders disagree on what a default import of them is,
// so take the class from require() explicitly. They are loaded when a client
// or a credential is first made, not with this module: together they take
// longer to load than the rest of a command that never calls the API
// (`status`, `dlq`, `--help`), which imports client.ts for its types and errors.
const require = createRequire(import.meta.url);
export type OpenApiModule = typeof import('@alicloud/openapi-core');
export type CredentialsModule = typeof import('@alicloud/credentials');
type DaraModule = typeof import('@darabonba/typescript');
export interface Sdk {
  OpenApiClient: OpenApiModule['default'];
  OpenApiUtil: OpenApiModule['$OpenApiUtil'];
  AlibabaCloudError: OpenApiModule['AlibabaCloudError'];
  RuntimeOptions: DaraModule['RuntimeOptions'];
  Credential: CredentialsModule['default'];
  CredentialConfig: CredentialsModule['Config'];
  ProfileCredentialsProvider: CredentialsModule['ProfileCredentialsProvider'];
}
let loaded: Sdk | undefined;
export function sdk(): Sdk {
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
export type CredentialsProvider = ConstructorParameters<CredentialsModule['default']>[1];
