import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';

/**
 * The core client surfaces `x-acs-retry-after` on a throttled error but drops
 * the `x-ratelimit-user-api` / `x-ratelimit-user` headers that carry the
 * server's `TimeLeft`. Node publishes every HTTP response on a diagnostics
 * channel, so we read the headers there for the requests we tagged (by their
 * signature nonce, which we choose) and hand them back to the caller.
 */
const NONCE_HEADER = 'x-acs-signature-nonce';
const pending = new Map<string, number | undefined>();
let subscribed = false;

function onResponse(message: unknown): void {
  const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
  const nonce = request.getHeader(NONCE_HEADER);
  if (typeof nonce !== 'string' || !pending.has(nonce)) return;
  pending.set(nonce, retryAfterFromHeaders(response.headers));
}

/** Milliseconds the server asks us to wait, from whichever hint says longest. */
export function retryAfterFromHeaders(headers: Record<string, string | string[] | undefined>): number | undefined {
  const hints = [
    parseMs(headers['x-acs-retry-after']),
    timeLeft(headers['x-ratelimit-user-api']),
    timeLeft(headers['x-ratelimit-user']),
  ].filter((v): v is number => v !== undefined);
  return hints.length > 0 ? Math.max(...hints) : undefined;
}

function parseMs(value: string | string[] | undefined): number | undefined {
  const n = Number.parseInt(String(value ?? ''), 10);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** `Limit:20,Remain:0,TimeLeft:850,Reset:...` -> 850 */
function timeLeft(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  for (const pair of String(value).split(',')) {
    const [key, raw] = pair.split(':');
    if (key?.trim() === 'TimeLeft') return parseMs(raw?.trim());
  }
  return undefined;
}

/** Tags a call; returns the nonce to send and a function that reads its hint once. */
export function trackRetryHint(nonce: string): () => number | undefined {
  if (!subscribed) {
    diagnostics.subscribe('http.client.response.finish', onResponse);
    subscribed = true;
  }
  pending.set(nonce, undefined);
  return () => {
    const hint = pending.get(nonce);
    pending.delete(nonce);
    return hint;
  };
}
