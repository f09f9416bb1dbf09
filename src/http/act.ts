import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Actor } from '../ledger/audit.ts';
import './context.ts';

/** Why, and a ticket beside the why: every body of an act may carry them; the audit trail keeps them. */
export const actFields = {
  reason: z.string().trim().min(1, 'reason must not be empty').max(500, 'reason must be at most 500 characters').optional(),
  ticket: z.string().trim().min(1, 'ticket must not be empty').max(100, 'ticket must be at most 100 characters').optional(),
};

/** The body of an act that takes nothing else (cancel, undo): `{}`, or with a reason and a ticket. */
export const actBodySchema = z.strictObject(actFields).default({});

export const actorSchema = z.object({ actor: z.string(), reason: z.string().optional(), ticket: z.string().optional() });

/** Who acts (the token's name), with the reason and ticket the body gave. */
export function actorOf(request: FastifyRequest, body: { reason?: string; ticket?: string } | undefined): Actor {
  return { actor: request.actor, ...(body?.reason ? { reason: body.reason } : {}), ...(body?.ticket ? { ticket: body.ticket } : {}) };
}
