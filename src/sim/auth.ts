import { failure, type Answer } from './errors.ts';
import { NonceCache } from './nonces.ts';
import { parseAuthorization, verify, type SignedRequest } from './signature.ts';
import { parseTimestamp } from './time.ts';

/** How far x-acs-date may be from the server clock, as Alibaba Cloud allows. */
const TIMESTAMP_TOLERANCE_MS = 15 * 60_000;
const MAX_REMEMBERED_NONCES = 100_000;

export type AuthResult = { ok: true; accessKeyId: string } | { ok: false; accessKeyId: string; answer: Answer };

/** Checks who is calling: AccessKey, signature, timestamp and nonce, in the gateway's order. */
export class Authenticator {
  readonly #nonces = new NonceCache(TIMESTAMP_TOLERANCE_MS, MAX_REMEMBERED_NONCES);

  constructor(private readonly accessKeys: Readonly<Record<string, string>>) {}

  check(request: SignedRequest, requestId: string, now: number): AuthResult {
    const header = (name: string): string | undefined => request.headers[name]?.[0];
    const auth = parseAuthorization(header('authorization'));
    if (!auth) return { ok: false, accessKeyId: '', answer: failure(requestId, 'SignatureDoesNotMatch') };
    const { accessKeyId } = auth;
    const fail = (code: string): AuthResult => ({ ok: false, accessKeyId, answer: failure(requestId, code) });

    const secret = Object.hasOwn(this.accessKeys, accessKeyId) ? this.accessKeys[accessKeyId] : undefined;
    if (secret === undefined) return fail('InvalidAccessKeyId.NotFound');
    if (!verify(request, auth, secret)) return fail('SignatureDoesNotMatch');

    const date = parseTimestamp(header('x-acs-date'));
    if (date === undefined) return fail('InvalidTimeStamp.Format');
    if (Math.abs(now - date) > TIMESTAMP_TOLERANCE_MS) return fail('InvalidTimeStamp.Expired');

    // Signed headers are present (verify checks), so the nonce is there.
    if (!this.#nonces.use(header('x-acs-signature-nonce')!, now)) return fail('SignatureNonceUsed');
    return { ok: true, accessKeyId };
  }

  reset(): void {
    this.#nonces.clear();
  }
}
