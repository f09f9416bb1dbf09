import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { HTTP_STATUS, LivequeueError } from '../errors.ts';
import type { RedisClient } from '../redis.ts';
import { z } from 'zod';

export const fieldErrorSchema = z.object({ field: z.string(), message: z.string() });

/** Every error answer: a stable code to branch on, a sentence for people, and field-level reasons for a 400. */
export const errorBodySchema = z.object({
  error: z.string(),
  message: z.string(),
  errors: z.array(fieldErrorSchema).optional(),
});
export type ErrorBody = z.output<typeof errorBodySchema>;

const PARTS: Partial<Record<string, string>> = { body: 'body', querystring: 'query string', params: 'path', headers: 'headers' };

/** `/0/DomainName` in `body` -> `0.DomainName`, the same dotted paths the CLI reports; unknown keys name themselves. */
function fieldOf(context: string | undefined, instancePath: string, params: Record<string, unknown>): string {
  const path = instancePath.split('/').filter(Boolean);
  if (Array.isArray(params.keys) && params.keys.length > 0) path.push(params.keys.join(','));
  return path.join('.') || `(${context ?? 'request'})`;
}

/**
 * The answer to an error that says all a user needs: its kind sets the status
 * (a kind without one is the server's fault: undefined, nothing sent). Hooks
 * that refuse a request before its route's plugin (whose own error handler
 * may not be this one, as bull-board's) answer through it too.
 */
export function sendToldError(reply: FastifyReply, error: unknown): FastifyReply | undefined {
  if (!(error instanceof LivequeueError) || HTTP_STATUS[error.kind] === undefined) return undefined;
  return reply.code(HTTP_STATUS[error.kind]!).send({ error: error.httpError, message: error.httpMessage, ...error.httpFields });
}

export function errorHandler(redis: RedisClient, bodyLimitBytes: number) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const body: ErrorBody = {
        error: 'invalid-request',
        message: `invalid ${PARTS[error.validationContext ?? ''] ?? 'request'}: see errors`,
        errors: error.validation.map((v) => ({ field: fieldOf(error.validationContext, v.instancePath, v.params), message: v.message ?? 'invalid' })),
      };
      return reply.code(400).send(body);
    }
    const told = sendToldError(reply, error);
    if (told) return told;
    if (error.statusCode === 413) {
      return reply.code(413).send({ error: 'body-too-large', message: `the body is larger than ${bodyLimitBytes} bytes (HTTP_BODY_LIMIT_BYTES)` } satisfies ErrorBody);
    }
    // Fastify's own 4xx (bad JSON, unsupported content type): its message says what is wrong.
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ error: 'bad-request', message: error.message } satisfies ErrorBody);
    }
    if (redis.status !== 'ready') {
      return reply.code(503).send({ error: 'redis-unavailable', message: 'Redis is not reachable; try again shortly' } satisfies ErrorBody);
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error; see the server log' } satisfies ErrorBody);
  };
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return reply.code(404).send({ error: 'not-found', message: `no route ${request.method} ${request.url.split('?')[0]}` } satisfies ErrorBody);
}
