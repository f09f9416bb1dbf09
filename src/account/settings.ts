import type { Operation } from '../catalog/operations.ts';

/** One Alibaba Cloud account this deployment drives: its quota, region and credentials. */
export interface AccountConfig {
  name: string;
  /**
   * Profile of the Alibaba Cloud credentials file (ALIBABA_CLOUD_CREDENTIALS_FILE,
   * or ~/.alibabacloud/credentials); absent: the credentials library's default chain.
   */
  profile?: string;
  qps: Record<Operation, number>;
  region: string;
  /** Domains whose blacklist is read for headroom, besides those the account bans in. */
  domains: string[];
}
