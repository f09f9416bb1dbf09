import type { Operation } from '../catalog/operations.ts';
import type { ParamsByOperation } from '../jobs/schemas.ts';

/**
 * The Live API as the rest of the product sees it: two operations, our own
 * types in and out, and failures returned as data (never thrown), so the
 * worker can look them up in the error-code table. The generated
 * `@alicloud/live20161101` SDK could implement this interface instead.
 */
export interface LiveApi {
  call<O extends Operation>(operation: O, params: ParamsByOperation[O], options?: CallOptions): Promise<LiveCallResult>;
  /**
   * Resolves the credentials once, without calling the API; rejects with a
   * CredentialsUnavailableError that says what to set when none can be found.
   */
  checkCredentials(): Promise<void>;
}

export interface CallOptions {
  /** performance.now() after which the request must not leave; see request-tracker.ts. */
  sendBy?: number;
}

export type LiveCallResult = LiveCallSuccess | LiveCallFailure | LiveCallNotSent;

/** The request missed its send deadline and was never sent: no effect, no answer. */
export interface LiveCallNotSent {
  ok: false;
  notSent: true;
}

export interface LiveCallSuccess {
  ok: true;
  requestId?: string;
  latencyMs: number;
}

export interface LiveCallFailure {
  ok: false;
  notSent?: false;
  code: string;
  message: string;
  httpStatus?: number;
  requestId?: string;
  /** True when no HTTP answer arrived (refused, reset, dropped, timed out). */
  network: boolean;
  /** True when an answer arrived but its body was not JSON (a gateway's HTML page). */
  bodyNotJson?: boolean;
  /** The server's own hint on when to try again, in ms. */
  retryAfterMs?: number;
  latencyMs: number;
}

export interface BlockListPage {
  ok: true;
  totalNum: number;
  totalPage: number;
  /** `domain/app/stream` of each banned stream on this page. */
  streamUrls: string[];
}
