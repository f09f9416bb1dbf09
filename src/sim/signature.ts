import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * ACS3-HMAC-SHA256 request signing (Alibaba Cloud signature V3), recomputed
 * from what arrived on the wire. Written from the published algorithm and kept
 * independent of the SDK, so a client that signs wrongly is caught here.
 */
const ALGORITHM = 'ACS3-HMAC-SHA256';

export interface AuthorizationHeader {
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

/** The parts of a received request that the signature covers. */
export interface SignedRequest {
  method: string;
  path: string;
  query: ReadonlyArray<readonly [string, string]>;
  /** Lower-case header name -> every value received under that name. */
  headers: Readonly<Record<string, readonly string[] | undefined>>;
  body: Buffer;
}

/** `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>`, or undefined if malformed. */
export function parseAuthorization(value: string | undefined): AuthorizationHeader | undefined {
  if (value === undefined) return undefined;
  const space = value.indexOf(' ');
  if (space < 0 || value.slice(0, space) !== ALGORITHM) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const accessKeyId = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!accessKeyId || !signedHeaders || !signature) return undefined;
  return { accessKeyId, signedHeaders: signedHeaders.split(';'), signature };
}

/** RFC 3986 percent-encoding, as the algorithm requires for query values. */
function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function canonicalRequest(request: SignedRequest, signedHeaders: readonly string[]): string {
  const sorted = [...signedHeaders].sort();
  // Keys go in as sent, unencoded, which is how the SDK signs them.
  const query = [...request.query]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${percentEncode(value)}`)
    .join('&');
  const headers = sorted
    .map((name) => {
      const values = (request.headers[name] ?? []).map((v) => v.trim()).sort();
      return `${name}:${values.join(',')}\n`;
    })
    .join('');
  return [request.method, request.path, query, headers, sorted.join(';'), sha256Hex(request.body)].join('\n');
}

function sign(secret: string, canonical: string): string {
  const stringToSign = `${ALGORITHM}\n${sha256Hex(canonical)}`;
  return createHmac('sha256', secret).update(stringToSign).digest('hex');
}

/** Headers every V3 request carries and signs. */
const REQUIRED_HEADERS = ['host', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256'];

/**
 * True if `auth.signature` is the signature of `request` under `secret`.
 * Host and every x-acs-* header received must be signed, so none can be altered in transit.
 */
export function verify(request: SignedRequest, auth: AuthorizationHeader, secret: string): boolean {
  const signed = new Set(auth.signedHeaders);
  const protectedHeaders = Object.keys(request.headers).filter((name) => name === 'host' || name.startsWith('x-acs-'));
  if ([...REQUIRED_HEADERS, ...protectedHeaders].some((name) => !signed.has(name))) return false;
  if (auth.signedHeaders.some((name) => request.headers[name] === undefined)) return false;
  const expected = Buffer.from(sign(secret, canonicalRequest(request, auth.signedHeaders)), 'utf8');
  const received = Buffer.from(auth.signature, 'utf8');
  return expected.length === received.length && timingSafeEqual(expected, received);
}
