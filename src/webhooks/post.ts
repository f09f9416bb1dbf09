import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';

/** The most of a receiver's answer read; beyond it the socket is dropped (the status is all that counts). */
export const ANSWER_LIMIT_BYTES = 4096;

/** A delivery that got no answer in time, or whose connection failed. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
}

/** Sockets of one endpoint, kept alive between deliveries, at most `maxSockets` at once. */
export function agentFor(url: URL, maxSockets: number): HttpAgent {
  const options = { keepAlive: true, maxSockets };
  return url.protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
}

/**
 * POSTs `body` and resolves with the answer's status once the answer has
 * ended or its first ANSWER_LIMIT_BYTES are read (then the socket is
 * destroyed). Rejects when the whole exchange takes longer than `timeoutMs`,
 * or on a network error. Nothing of the request (its signature) is in the
 * error's message.
 */
export function post(url: URL, headers: Record<string, string>, body: string, timeoutMs: number, agent: HttpAgent): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const timer = setTimeout(() => request.destroy(new DeliveryError(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const settle = (status?: number, error?: Error) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(status ?? 0);
    };
    const request = send(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (answer) => {
      let read = 0;
      answer.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read < ANSWER_LIMIT_BYTES) return;
        settle(answer.statusCode);
        request.destroy();
      });
      answer.on('end', () => settle(answer.statusCode));
      answer.on('error', () => settle(answer.statusCode));
    });
    request.on('error', (error: Error) => settle(undefined, error instanceof DeliveryError ? error : new DeliveryError(`${error.message}`)));
    request.end(body);
  });
}
