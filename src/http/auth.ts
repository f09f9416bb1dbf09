import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

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

// Comparing digests keeps the comparison constant-time whatever the lengths.
const digest = (value: string) => createHash('sha256').update(value).digest();

/** An onRequest hook that answers 401 unless the request carries `token`. Never logs or echoes the token. */
export function requireToken(token: string): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  const expected = digest(token);
  return async (request, reply) => {
    const presented = presentedToken(request.headers.authorization);
    if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return undefined;
    // Both challenges: API clients read Bearer, browsers prompt for Basic.
    return reply
      .code(401)
      .header('www-authenticate', ['Bearer realm="livequeue"', 'Basic realm="livequeue", charset="UTF-8"'])
      .send({ error: 'unauthorized', message: 'missing or wrong token: send Authorization: Bearer <LIVEQUEUE_API_TOKEN>' });
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
    const host = (request.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    if (LOOPBACK_HOSTS.has(host)) return undefined;
    return reply.code(403).send({ error: 'forbidden-host', message: 'without LIVEQUEUE_API_TOKEN only requests to 127.0.0.1, localhost or [::1] are answered' });
  };
}
