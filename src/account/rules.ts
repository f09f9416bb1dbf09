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
