import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sha256Of, type ApiToken } from '../config/tokens-file.ts';
import { sendToldError } from './errors.ts';
import { missingScope } from './scopes.ts';

/** The actor of a request to a server without tokens, which answers on loopback only. */
export const LOOPBACK_ACTOR = 'loopback';

/**
 * The token may come as `Authorization: Bearer <token>` (API clients) or as
 * the password of HTTP Basic auth with any user name, which is what a browser
 * can send for the dashboard after its login prompt.
 */
function presentedToken(header: string | undefined): string | undefined {
  const match = /^(Bearer|Basic)\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  if (match[1]!.toLowerCase() === 'bearer') return match[2];
  const decoded = Buffer.from(match[2]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/**
 * The configured token `presented` is, compared as SHA-256 digests (equal
 * lengths whatever the token's) in constant time. Every token is compared,
 * with no early return, so the time taken does not tell which one matched.
 */
export function matchToken(tokens: readonly ApiToken[], presented: string): ApiToken | undefined {
  const digest = sha256Of(presented);
  let found: ApiToken | undefined;
  for (const token of tokens) {
    const equal = timingSafeEqual(digest, token.sha256);
    found = equal && found === undefined ? token : found;
  }
  return found;
}

/**
 * The token an Authorization header carries (its name is the request's
 * actor), or undefined when it carries none of `tokens`.
 */
export function tokenOf(tokens: readonly ApiToken[], authorization: string | undefined): ApiToken | undefined {
  const presented = presentedToken(authorization);
  return presented === undefined ? undefined : matchToken(tokens, presented);
}

/**
 * An onRequest hook that answers 401 unless the request carries one of
 * `tokens`, sets `request.actor` to its name, and refuses with 403
 * `missing-scope` a token without the scope the route declares (scopes.ts).
 * Never logs or echoes the token.
 */
export function requireToken(tokens: readonly ApiToken[]): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  return async (request, reply) => {
    const token = tokenOf(tokens, request.headers.authorization);
    if (token === undefined) {
      // Both challenges: API clients read Bearer, browsers prompt for Basic.
      return reply
        .code(401)
        .header('www-authenticate', ['Bearer realm="livequeue"', 'Basic realm="livequeue", charset="UTF-8"'])
        .send({ error: 'unauthorized', message: 'missing or wrong token: send Authorization: Bearer <token> (LIVEQUEUE_API_TOKEN, or one of LIVEQUEUE_API_TOKENS_FILE)' });
    }
    request.actor = token.name;
    // 403 missing-scope, answered here: the dashboard's plugin has an error handler of its own.
    const refusal = missingScope(token, request);
    return refusal ? sendToldError(reply, refusal) : undefined;
  };
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * Without a token the server listens on loopback only, but a web page the
 * operator visits can still reach it through DNS rebinding (a name of the
 * attacker's that resolves to 127.0.0.1). Such a request names the
 * attacker's host: answer only requests addressed to a loopback name.
 */
export function requireLoopbackHost(): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  return async (request, reply) => {
    request.actor = LOOPBACK_ACTOR;
    const host = (request.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    if (LOOPBACK_HOSTS.has(host)) return undefined;
    return reply.code(403).send({ error: 'forbidden-host', message: 'without LIVEQUEUE_API_TOKEN or LIVEQUEUE_API_TOKENS_FILE only requests to 127.0.0.1, localhost or [::1] are answered' });
  };
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether `origin` (scheme://host[:port]) names the host this request was sent to (or the one a proxy forwarded). */
function isOwnOrigin(origin: string, request: FastifyRequest): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (a sandboxed frame, a file) or garbage
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const forwarded = request.headers['x-forwarded-host'];
  const hosts = [request.headers.host, ...(typeof forwarded === 'string' ? forwarded.split(',') : [])];
  return hosts.some((host) => {
    if (!host) return false;
    try {
      // Parsed with the origin's scheme, so a default port written out (":443") compares equal.
      return new URL(`${url.protocol}//${host.trim()}`).host === url.host;
    } catch {
      return false;
    }
  });
}

/**
 * Cross-site request forgery: a page the operator visits can make the
 * browser send a request to this server (on 127.0.0.1, or with the Basic
 * credentials it remembers for the dashboard), and several state-changing
 * routes take no body at all (`POST /v1/batches/:id/cancel`, `/undo`). A
 * browser only sends `content-type: application/json` to another origin
 * after a CORS preflight, which this server never grants; forms and
 * `navigator.sendBeacon` cannot send it. So every POST, PUT, PATCH and
 * DELETE must say `application/json` (415 otherwise; a route without a body
 * takes `{}`), and one whose `Origin` names another site is refused (403).
 */
export function requireSameOriginJson(): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  return async (request, reply) => {
    if (!STATE_CHANGING.has(request.method)) return undefined;
    const origin = request.headers.origin;
    if (origin !== undefined && !isOwnOrigin(origin, request)) {
      return reply.code(403).send({
        error: 'cross-origin',
        message: `${request.method} from a page of another origin is refused: state-changing requests are answered only without an Origin header or from this server's own origin`,
      });
    }
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      return reply.code(415).send({
        error: 'json-required',
        message: `${request.method} needs content-type: application/json (send {} when the route takes no body), so that a web page cannot send it from another site`,
      });
    }
    return undefined;
  };
}
