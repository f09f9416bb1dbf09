import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Answer } from './errors.ts';
import type { SignedRequest } from './signature.ts';
import { now } from './time.ts';

const MAX_BODY_BYTES = 1 << 20;
export const CONTROL_PREFIX = '/__sim/';

/** An API call's fate: `answer` undefined means drop the connection without a response. */
export interface Delivery {
  answer: Answer | undefined;
  delayMs: number;
  requestId: string;
}

export interface ControlReply {
  status: number;
  body: unknown;
}

export interface Handlers {
  api(request: SignedRequest, at: number): Delivery;
  control(method: string, path: string, query: URLSearchParams, body: Buffer): ControlReply;
}

/** HTTP plumbing: reads requests, routes /__sim/ to the control API, delivers or drops answers. */
export class SimServer {
  readonly #server: Server;
  readonly #pending = new Set<NodeJS.Timeout>();

  constructor(private readonly handlers: Handlers) {
    this.#server = createServer((req, res) => this.#receive(req, res));
    // Outlive the client agents' idle timeout, so a client never reuses a socket we are closing.
    this.#server.keepAliveTimeout = 30_000;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    for (const timer of this.#pending) clearTimeout(timer);
    this.#pending.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    return closed;
  }

  #receive(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const at = now();
      const body = Buffer.concat(chunks);
      // Split by hand: the signature covers the path exactly as sent.
      const [path = '/', rawQuery = ''] = (req.url ?? '/').split(/\?(.*)/s);
      const query = new URLSearchParams(rawQuery);
      if (path.startsWith(CONTROL_PREFIX)) {
        const reply = this.handlers.control(req.method ?? 'GET', path, query, body);
        sendJson(res, reply.status, reply.body, {});
        return;
      }
      const delivery = this.handlers.api(
        { method: req.method ?? 'GET', path, query: [...query], headers: req.headersDistinct, body },
        at,
      );
      this.#deliver(res, delivery);
    });
  }

  #deliver(res: ServerResponse, { answer, delayMs, requestId }: Delivery): void {
    const send = (): void => {
      if (res.destroyed) return;
      if (!answer) {
        res.socket?.destroy();
        return;
      }
      if (answer.html !== undefined) sendHtml(res, answer.status, answer.html, answer.headers);
      else sendJson(res, answer.status, answer.body, { 'x-acs-request-id': requestId, ...answer.headers });
    };
    if (delayMs <= 0) return send();
    const timer = setTimeout(() => {
      this.#pending.delete(timer);
      send();
    }, delayMs);
    this.#pending.add(timer);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json;charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string>): void {
  res.writeHead(status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(html), ...headers });
  res.end(html);
}
