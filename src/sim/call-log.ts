import { maxInAnyWindow } from './windows.ts';

/** One request as the server saw it. */
export interface CallRecord {
  /** Epoch ms (fractional) when the whole request had arrived. */
  at: number;
  /** As named by x-acs-action or the Action parameter; '' if neither. */
  action: string;
  /** From the Authorization header; '' if it could not be read. */
  accessKeyId: string;
  /** 'OK', the error code answered, or CONNECTION_DROPPED. */
  code: string;
  /** HTTP status decided on; 0 when the connection was dropped before any effect. */
  status: number;
  requestId: string;
  params: Record<string, string>;
  /** True when the socket was destroyed instead of answering. */
  responseLost: boolean;
}

/** Code logged for a call whose connection was dropped before its effect. */
export const CONNECTION_DROPPED = 'ConnectionDropped';

/** The most recent `limit` calls, oldest first, in a ring so memory stays bounded. */
export class CallLog {
  #ring: CallRecord[] = [];
  #next = 0;

  constructor(readonly limit: number) {}

  append(record: CallRecord): void {
    if (this.#ring.length < this.limit) this.#ring.push(record);
    else this.#ring[this.#next] = record;
    this.#next = (this.#next + 1) % this.limit;
  }

  /** Oldest first. Records arrive in `at` order, so the result is sorted by `at`. */
  records(): CallRecord[] {
    if (this.#ring.length < this.limit) return [...this.#ring];
    return [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }

  /** The most calls matching `filter` that arrived within any `windowMs` span, (t - windowMs, t]. */
  maxInAnyWindow(filter: (record: CallRecord) => boolean, windowMs: number): number {
    return maxInAnyWindow(this.records().filter(filter).map((r) => r.at), windowMs);
  }

  clear(): void {
    this.#ring = [];
    this.#next = 0;
  }
}
