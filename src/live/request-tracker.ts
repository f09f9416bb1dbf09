import diagnostics from 'node:diagnostics_channel';
import { Agent, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Watches the HTTP requests the core client makes, which it does not expose
 * itself. We recognise ours by the signature nonce, which we choose.
 *
 * - Send deadline: a paced call must leave close to its slot. Signing and
 *   request setup usually take a millisecond, but a cold start or a GC pause
 *   can take ten, and so can opening a new connection. The core client's
 *   HTTP layer keeps private agents, so the check sits on the Agent
 *   prototype: a late request is destroyed before a byte is written and can
 *   never crowd the server's rolling second; the caller takes a new slot
 *   instead. Requests we do not track pass through untouched.
 * - Retry hints: on errors the core client keeps `x-acs-retry-after` but drops
 *   `x-ratelimit-user-api` / `x-ratelimit-user` (whose `TimeLeft` is a hint
 *   too); Node publishes every response on a diagnostics channel, read there.
 */
const NONCE_HEADER = 'x-acs-signature-nonce';

interface Tracked {
  /** performance.now() after which the request must not be sent. */
  sendBy?: number;
  missed: boolean;
  retryAfterMs?: number;
  /** The HTTP status of the answer, once one arrived. */
  status?: number;
}

const tracked = new Map<string, Tracked>();
let subscribed = false;

export class SendDeadlineMissed extends Error {
  constructor(lateByMs: number) {
    super(`request not sent: ${lateByMs.toFixed(1)} ms past its slot`);
    this.name = 'SendDeadlineMissed';
  }
}

function nonceOf(request: ClientRequest): Tracked | undefined {
  const nonce = request.getHeader(NONCE_HEADER);
  return typeof nonce === 'string' ? tracked.get(nonce) : undefined;
}

/** Ms past the deadline, or 0 when on time (or not a paced request of ours). */
function lateness(entry: Tracked | undefined): number {
  return entry?.sendBy === undefined ? 0 : Math.max(0, performance.now() - entry.sendBy);
}

/**
 * Checks the deadline at the two moments before bytes leave: when the request
 * asks the agent for a socket, and, on a new connection, when it connects
 * (our 'connect' listener runs before the socket flushes the buffered
 * request). A late request is destroyed unsent.
 */
function guardSend(request: ClientRequest): boolean {
  const entry = nonceOf(request);
  const late = lateness(entry);
  if (late > 0) {
    entry!.missed = true;
    // How an agent reports that it could not provide a socket: the request
    // errors out (asynchronously, like any connection failure) and is closed.
    (request as unknown as { onSocket(socket: null, error: Error): void }).onSocket(null, new SendDeadlineMissed(late));
    return false;
  }
  if (entry?.sendBy !== undefined) {
    request.once('socket', (socket: Socket) => {
      if (!socket.connecting) return;
      socket.once('connect', () => {
        const lateOnConnect = lateness(entry);
        if (lateOnConnect > 0) {
          entry.missed = true;
          request.destroy(new SendDeadlineMissed(lateOnConnect));
        }
      });
    });
  }
  return true;
}

type AddRequest = (this: Agent, request: ClientRequest, options: unknown) => void;

/** Covers https too: its Agent inherits addRequest from http's. */
function installSendDeadline(): void {
  const prototype = Agent.prototype as unknown as { addRequest: AddRequest };
  const addRequest = prototype.addRequest;
  prototype.addRequest = function (this: Agent, request, options) {
    if (guardSend(request)) addRequest.call(this, request, options);
  };
}

function onResponse(message: unknown): void {
  const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
  const entry = nonceOf(request);
  if (!entry) return;
  entry.retryAfterMs = retryAfterFromHeaders(response.headers);
  entry.status = response.statusCode;
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

export interface TrackedRequest {
  /** True when the request was destroyed unsent for missing its deadline. */
  readonly missed: boolean;
  /** The server's retry hint from the response headers, if any. */
  readonly retryAfterMs: number | undefined;
  /** The HTTP status of the answer, if one arrived (also when its body could not be read). */
  readonly status: number | undefined;
  done(): void;
}

export function trackRequest(nonce: string, sendBy?: number): TrackedRequest {
  if (!subscribed) {
    installSendDeadline();
    diagnostics.subscribe('http.client.response.finish', onResponse);
    subscribed = true;
  }
  const entry: Tracked = { sendBy, missed: false };
  tracked.set(nonce, entry);
  return {
    get missed() {
      return entry.missed;
    },
    get retryAfterMs() {
      return entry.retryAfterMs;
    },
    get status() {
      return entry.status;
    },
    done: () => tracked.delete(nonce),
  };
}
