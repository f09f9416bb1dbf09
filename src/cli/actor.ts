import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Actor } from '../ledger/audit.ts';
import { UsageError } from './errors.ts';

const MAX_REASON = 500;
const MAX_TICKET = 100;
const ACTOR_NAME = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** The options every act takes: who, why, and a ticket beside the why. */
export function actOptions(command: Command): Command {
  return command
    .option('--reason <text>', 'why: kept with the act in the audit trail (`livequeue history`)')
    .option('--ticket <id>', 'a ticket or case number beside the reason')
    .option('--actor <name>', 'who acts, for the audit trail (default: cli:<user>@<host>)');
}

/** The actor of a command's act, from its options; the user and host of this shell by default. */
export function actorOf(command: Command): Actor {
  const opts = command.opts() as { reason?: string; ticket?: string; actor?: string };
  const actor = opts.actor ?? `cli:${safeUser()}@${hostname()}`;
  if (!ACTOR_NAME.test(actor)) throw new UsageError(`--actor must be 1-128 letters, digits, _ . : @ - (got "${actor}")`);
  if (opts.reason !== undefined && (opts.reason.trim() === '' || opts.reason.length > MAX_REASON)) throw new UsageError(`--reason must be 1-${MAX_REASON} characters`);
  if (opts.ticket !== undefined && (opts.ticket.trim() === '' || opts.ticket.length > MAX_TICKET)) throw new UsageError(`--ticket must be 1-${MAX_TICKET} characters`);
  return { actor, ...(opts.reason !== undefined ? { reason: opts.reason } : {}), ...(opts.ticket !== undefined ? { ticket: opts.ticket } : {}) };
}

function safeUser(): string {
  try {
    return userInfo().username.replace(/[^A-Za-z0-9_.-]/g, '_') || 'unknown';
  } catch {
    // No passwd entry for this uid (a container's numeric user).
    return process.env.USER?.replace(/[^A-Za-z0-9_.-]/g, '_') || `uid${process.getuid?.() ?? ''}`;
  }
}
