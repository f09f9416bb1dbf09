import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { AccountConfig } from './settings.ts';
import { ACCOUNT_NAME, ACCOUNT_NAME_RULE, REGION } from './rules.ts';
import { OPERATION_INFO, OPERATIONS, perOperation, type AccountsFileQpsField } from '../catalog/operations.ts';

/**
 * LIVEQUEUE_ACCOUNTS_FILE: the accounts one deployment drives.
 *
 *   {"accounts":[{"name":"main","profile":"main","forbidQps":20,"stopMonitorQps":10,"resumeQps":30,"region":"cn-shanghai"}]}
 *
 * Each account's credentials come from the named profile of the Alibaba
 * Cloud credentials file, read by @alicloud/credentials; this file holds no
 * secret. QPS and region are optional; each operation's QPS field is named in
 * the operation catalog (catalog/operations.ts), its default is the API page's.
 */
const qps = (field: string) => z.number({ error: `${field} must be a number` }).positive(`${field} must be greater than 0`).max(10_000, `${field} must be at most 10000`).optional();
/** forbidQps, stopMonitorQps, resumeQps: one per operation of the catalog. */
const qpsFields = Object.fromEntries(OPERATIONS.map((op) => [OPERATION_INFO[op].accountsFileField, qps(OPERATION_INFO[op].accountsFileField)])) as Record<AccountsFileQpsField, ReturnType<typeof qps>>;

const accountSchema = z.strictObject(
  {
    name: z.string({ error: 'name is required' }).regex(ACCOUNT_NAME, `name must be ${ACCOUNT_NAME_RULE}`),
    profile: z.string({ error: 'profile is required (a profile of the Alibaba Cloud credentials file)' }).min(1, 'profile must not be empty'),
    ...qpsFields,
    region: z.string().regex(REGION, 'region must be a region id such as cn-shanghai').optional(),
    domains: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'domains must be domain names'), { error: 'domains must be a list of domain names' }).optional(),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}` : 'must be an object') },
);

const fileSchema = z.strictObject({
  accounts: z.array(z.unknown(), { error: 'accounts must be a list' }).min(1, 'accounts must name at least one account'),
});

/** The accounts of the file, or what is wrong with it (naming the account and the field). */
export function readAccountsFile(path: string, defaults: { region: string; domains: string[] }): AccountConfig[] | string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return `is not JSON (${(error as Error).message})`;
  }
  const file = fileSchema.safeParse(json);
  if (!file.success) return file.error.issues[0]!.message;
  const accounts: AccountConfig[] = [];
  for (const [i, raw] of file.data.accounts.entries()) {
    const label = typeof (raw as { name?: unknown } | null)?.name === 'string' ? `account "${(raw as { name: string }).name}"` : `account #${i + 1}`;
    const parsed = accountSchema.safeParse(raw);
    if (!parsed.success) return `${label}: ${parsed.error.issues[0]!.message}`;
    const a = parsed.data;
    if (accounts.some((b) => b.name === a.name)) return `${label}: name appears twice`;
    accounts.push({
      name: a.name,
      profile: a.profile,
      qps: perOperation((op) => a[OPERATION_INFO[op].accountsFileField] ?? OPERATION_INFO[op].defaultQps),
      region: a.region ?? defaults.region,
      domains: (a.domains ?? defaults.domains).map((d) => d.toLowerCase()),
    });
  }
  return accounts;
}
