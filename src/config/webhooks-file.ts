import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { OPERATIONS, operationFromSlug, type Operation } from '../catalog/operations.ts';

/** What a webhook endpoint may receive: job outcomes and finished batches (the audit trail's records). */
export const WEBHOOK_EVENTS = ['outcome', 'batch.done'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/**
 * One endpoint of LIVEQUEUE_WEBHOOKS_FILE. `secret` is read from the variable
 * `secretEnv` names at load; it is not enumerable, so no log line or JSON of a
 * config carries it.
 */
export interface WebhookEndpoint {
  name: string;
  url: string;
  events: readonly WebhookEvent[];
  /** Only records of these operations (all without it). */
  operations?: readonly Operation[];
  secretEnv: string;
  ratePerSecond: number;
  readonly secret: string;
}

const WEBHOOK_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const LOOPBACK = ['127.0.0.1', '[::1]', 'localhost'];
const webhookSchema = z.strictObject(
  {
    name: z.string({ error: 'name is required (a string)' }).regex(WEBHOOK_NAME, 'name must be 1 to 64 letters, digits, _ . -'),
    url: z.url({ error: 'url must be an absolute URL (https://...)' }),
    events: z.array(z.enum(WEBHOOK_EVENTS, { error: `each event must be one of ${WEBHOOK_EVENTS.join(', ')}` }), { error: `events must be a list of ${WEBHOOK_EVENTS.join(', ')}` }).min(1, 'events must name at least one event'),
    operations: z
      .array(z.string().transform((name, ctx) => (OPERATIONS as readonly string[]).includes(name) ? (name as Operation) : (operationFromSlug(name) ?? (ctx.addIssue({ code: 'custom', message: `each operation must be one of ${OPERATIONS.join(', ')} (or its slug)` }), z.NEVER))), { error: 'operations must be a list of operations' })
      .min(1, 'operations must name at least one operation (leave it out for all)')
      .optional(),
    secretEnv: z.string({ error: 'secretEnv is required: the name of the environment variable holding the signing secret' }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'secretEnv must be the name of an environment variable'),
    ratePerSecond: z.number({ error: 'ratePerSecond must be a number' }).positive('ratePerSecond must be greater than 0').max(1000, 'ratePerSecond must be at most 1000').default(10),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')} (the fields are name, url, events, secretEnv, ratePerSecond, operations)` : 'must be an object with name, url, events and secretEnv') },
);

/** The rules of one endpoint that zod's per-field rules cannot say: the URL's scheme, the secret. */
function endpointProblem(entry: z.output<typeof webhookSchema>, env: Record<string, string | undefined>, allowHttpLoopback: boolean): string | undefined {
  const url = new URL(entry.url);
  const loopback = allowHttpLoopback && url.protocol === 'http:' && LOOPBACK.includes(url.hostname);
  if (url.protocol !== 'https:' && !loopback) return `url: must be https:// (http:// only to 127.0.0.1, ::1 or localhost, with WEBHOOKS_ALLOW_HTTP_LOOPBACK=1)`;
  const secret = env[entry.secretEnv];
  // Never the value: only the variable's name and the rule.
  if (secret === undefined || secret === '') return `secretEnv: the environment variable ${entry.secretEnv} is not set (it must hold the signing secret, at least 32 characters)`;
  if (secret.length < 32) return `secretEnv: the secret in ${entry.secretEnv} must be at least 32 characters`;
  return undefined;
}

/**
 * LIVEQUEUE_WEBHOOKS_FILE: a JSON list of endpoints, or what is wrong with
 * it as `webhooks[i].field: rule` (never a secret). Secrets come from the
 * environment variables the entries name.
 */
export function readWebhooksFile(path: string, env: Record<string, string | undefined>, allowHttpLoopback: boolean): WebhookEndpoint[] | string {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `cannot be read (${code})` : 'is not JSON: it must be a list of {"name", "url", "events", "secretEnv"}';
  }
  if (!Array.isArray(json)) return 'must be a list of {"name", "url", "events", "secretEnv"}';
  const endpoints: WebhookEndpoint[] = [];
  for (const [i, raw] of json.entries()) {
    const parsed = webhookSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return `${issue.path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : `${out}.${String(key)}`), `webhooks[${i}]`)}: ${issue.message}`;
    }
    const problem = endpointProblem(parsed.data, env, allowHttpLoopback);
    if (problem) return `webhooks[${i}].${problem}`;
    const same = endpoints.findIndex((e) => e.name === parsed.data.name);
    if (same !== -1) return `webhooks[${i}].name: "${parsed.data.name}" is already the name of webhooks[${same}]: names must be unique`;
    const fields: Omit<WebhookEndpoint, 'secret'> = { ...parsed.data };
    endpoints.push(Object.defineProperty(fields, 'secret', { value: env[parsed.data.secretEnv]!, enumerable: false }) as WebhookEndpoint);
  }
  return endpoints;
}
