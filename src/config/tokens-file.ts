import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * LIVEQUEUE_API_TOKENS_FILE: the named tokens of the HTTP API, each with the
 * scopes it may use. The file holds only SHA-256 hashes of the tokens:
 *
 *   [{"name": "ci", "tokenSha256": "<64 hex: printf %s "$TOKEN" | sha256sum>", "scopes": ["enqueue"]}]
 *
 * (`{"tokens": [...]}` is read the same way). Nothing here ever puts a token
 * or a hash in a message.
 */

/** What a token may do: enqueue jobs, operate on what is queued (cancel, undo, replay…), read. */
export const API_SCOPES = ['enqueue', 'operate', 'read'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** One token of the HTTP API, as configured: its name is the actor of what it does. */
export interface ApiToken {
  name: string;
  /** SHA-256 of the token (32 bytes); the token itself is never kept. */
  sha256: Buffer;
  scopes: readonly ApiScope[];
}

/** The name LIVEQUEUE_API_TOKEN gets, with every scope. */
export const DEFAULT_TOKEN_NAME = 'default';

export const TOKEN_NAME = /^[A-Za-z0-9_.:@-]{1,64}$/;
export const TOKEN_NAME_RULE = '1 to 64 letters, digits, _ . : @ -';

/** The SHA-256 of a token, as the file and the server compare it. */
export const sha256Of = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

const entrySchema = z.strictObject(
  {
    name: z.string({ error: 'name is required (a string)' }).regex(TOKEN_NAME, `name must be ${TOKEN_NAME_RULE}`),
    tokenSha256: z
      .string({ error: 'tokenSha256 is required: the SHA-256 of the token in hex (printf %s "$TOKEN" | sha256sum)' })
      .regex(/^[0-9A-Fa-f]{64}$/, 'tokenSha256 must be 64 hex digits: the SHA-256 of the token (printf %s "$TOKEN" | sha256sum), never the token itself'),
    scopes: z
      .array(z.enum(API_SCOPES, { error: `each scope must be one of ${API_SCOPES.join(', ')}` }), { error: `scopes must be a list of ${API_SCOPES.join(', ')}` })
      .min(1, `scopes must name at least one of ${API_SCOPES.join(', ')}`),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')} (the fields are name, tokenSha256 and scopes; the file holds hashes, never tokens)`
        : 'must be an object with name, tokenSha256 and scopes',
  },
);

const listSchema = z.array(z.unknown()).min(1, 'the file must list at least one token');

/** `tokens[2].scopes[0]` for an issue at ['scopes', 0] of entry 2. */
function pathOf(index: number, path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : `${out}.${String(key)}`), `tokens[${index}]`);
}

/** The JSON of the file, or what keeps it from being read. */
function readJson(path: string): { json: unknown } | string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  try {
    return { json: JSON.parse(text) };
  } catch {
    // JSON.parse's message may quote the text around the fault, which may be a token: say only what it must be.
    return 'is not JSON: it must be a list of {"name", "tokenSha256", "scopes"}';
  }
}

/**
 * The tokens of the file, or what is wrong with it: `tokens[i].field: rule`.
 * `taken` are tokens configured elsewhere (LIVEQUEUE_API_TOKEN), whose names
 * and hashes the file must not repeat.
 */
export function readTokensFile(path: string, taken: readonly ApiToken[] = []): ApiToken[] | string {
  const read = readJson(path);
  if (typeof read === 'string') return read;
  const { json } = read;
  const entries = typeof json === 'object' && json !== null && !Array.isArray(json) && 'tokens' in json ? (json as { tokens: unknown }).tokens : json;
  const list = listSchema.safeParse(entries);
  if (!list.success) return Array.isArray(entries) ? list.error.issues[0]!.message : 'must be a list of {"name", "tokenSha256", "scopes"} (or {"tokens": [...]})';
  const tokens: ApiToken[] = [];
  for (const [i, raw] of list.data.entries()) {
    const parsed = entrySchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return `${pathOf(i, issue.path)}: ${issue.message}`;
    }
    const { name, tokenSha256, scopes } = parsed.data;
    const sha256 = Buffer.from(tokenSha256, 'hex');
    const other = (t: ApiToken | undefined) => (t === undefined ? '' : taken.includes(t) ? 'LIVEQUEUE_API_TOKEN' : `tokens[${tokens.indexOf(t)}]`);
    const sameName = [...taken, ...tokens].find((t) => t.name === name);
    if (sameName) return `tokens[${i}].name: "${name}" is already the name of ${other(sameName)}: names must be unique`;
    const sameHash = [...taken, ...tokens].find((t) => t.sha256.equals(sha256));
    if (sameHash) return `tokens[${i}].tokenSha256: the same token as ${other(sameHash)} ("${sameHash.name}"): a token has one name`;
    tokens.push({ name, sha256, scopes: API_SCOPES.filter((s) => scopes.includes(s)) });
  }
  return tokens;
}
