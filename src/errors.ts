/**
 * The errors livequeue tells people about: each has a stable code (the `error`
 * of `--json` output) and a kind, which sets the command's exit code and the
 * HTTP status. This module imports nothing, so `livequeue --help` can load it
 * without the queue, the Redis client or the API client.
 */

/** What went wrong, for the one who asked: it decides the exit code (EXIT_CODES) and the HTTP status (HTTP_STATUS). */
export type ErrorKind = 'usage' | 'input' | 'config' | 'credentials' | 'forbidden' | 'not-found' | 'conflict' | 'unavailable' | 'upstream';

interface ErrorInfo {
  /** The class's name, as `error.name`. */
  name: string;
  kind: ErrorKind;
  /** The HTTP answer's `error` where it is not the code (these names were answered first). */
  http?: string;
}

/** Every code, by its kebab name (`RedisUnavailableError` -> `redis-unavailable`). */
export const ERRORS = {
  usage: { name: 'UsageError', kind: 'usage' },
  config: { name: 'ConfigError', kind: 'config' },
  'input-file': { name: 'InputFileError', kind: 'input' },
  'credentials-unavailable': { name: 'CredentialsUnavailableError', kind: 'credentials' },
  'redis-unavailable': { name: 'RedisUnavailableError', kind: 'unavailable' },
  'missing-scope': { name: 'MissingScopeError', kind: 'forbidden' },
  'unknown-account': { name: 'UnknownAccountError', kind: 'not-found' },
  'unknown-batch': { name: 'UnknownBatchError', kind: 'not-found', http: 'not-found' },
  'batch-operation-mismatch': { name: 'BatchOperationMismatchError', kind: 'conflict', http: 'batch-conflict' },
  'batch-not-undoable': { name: 'BatchNotUndoableError', kind: 'conflict', http: 'not-undoable' },
  'cancel-all-not-confirmed': { name: 'CancelAllNotConfirmedError', kind: 'conflict', http: 'not-confirmed' },
  'purge-all-not-confirmed': { name: 'PurgeAllNotConfirmedError', kind: 'conflict', http: 'not-confirmed' },
  'blacklist-read': { name: 'BlacklistReadError', kind: 'upstream' },
} as const satisfies Record<string, ErrorInfo>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * The command's exit code: 2 when the call or the setup must change, 3 when
 * Redis is out of reach (worth retrying as is). 1 is left to "some input was
 * invalid, the rest went through", which commands set themselves.
 */
export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = {
  usage: 2,
  input: 2,
  config: 2,
  credentials: 2,
  forbidden: 2,
  'not-found': 2,
  conflict: 2,
  unavailable: 3,
  upstream: 2,
};

/** The HTTP status by kind; a kind not here is the server's fault, answered 500 (or 503 while Redis is down). */
export const HTTP_STATUS: Readonly<Partial<Record<ErrorKind, number>>> = {
  usage: 400,
  input: 400,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  unavailable: 503,
};

/** An error whose message says all a user needs: printed as one line, never as a stack. */
export class LivequeueError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.kind = ERRORS[code].kind;
    this.name = ERRORS[code].name;
  }

  /** The HTTP answer's `error`. */
  get httpError(): string {
    const info: ErrorInfo = ERRORS[this.code];
    return info.http ?? this.code;
  }

  /** The HTTP answer's `message`: the CLI's, unless it names a flag. */
  get httpMessage(): string {
    return this.message;
  }

  /** Further fields of the HTTP answer. */
  get httpFields(): Record<string, unknown> {
    return {};
  }
}
