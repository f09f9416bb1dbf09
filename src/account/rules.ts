/** What account names and region ids look like, shared by the environment and the accounts file. */
export const ACCOUNT_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const ACCOUNT_NAME_RULE = '1-64 letters, digits, _ . -';
export const REGION = /^[a-z]{2,}(-[a-z0-9]+)+$/;

/** The account of a deployment configured from the environment alone, as before accounts files existed. */
export const DEFAULT_ACCOUNT = 'default';

/** What an account name the deployment does not know is told. */
export function unknownAccountMessage(account: string, known: readonly { name: string }[]): string {
  return `unknown account "${account}": this deployment knows ${known.map((a) => `"${a.name}"`).join(', ')}`;
}

/**
 * Where one account's keys live. A named account's keys carry its name as a
 * hash tag (`livequeue:{main}:…`), so one account's keys share a Redis
 * Cluster slot while different accounts spread over the shards. The default
 * account keeps the plain prefix, so a one-account deployment's keys are unchanged.
 */
export function accountPrefix(prefix: string, account: string): string {
  return account === DEFAULT_ACCOUNT ? prefix : `${prefix}:{${account}}`;
}

/** The part of a key Redis Cluster hashes: the first non-empty {...}, if any. */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open === -1) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}
