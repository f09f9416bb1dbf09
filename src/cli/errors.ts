/** A mistake in how the command was called: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Errors whose message says all a user needs, by their `name`: printed as one
 * line, never as a stack, with the exit code given here. Matched by name, not
 * by class, so the command does not load the modules that define them (the
 * queue, the Redis client, the API client) before it knows it needs them.
 */
export const TOLD_ERRORS: Readonly<Record<string, number>> = {
  ConfigError: 2,
  UsageError: 2,
  RedisUnavailableError: 1,
  CredentialsUnavailableError: 2,
  UnknownAccountError: 2,
  UnknownBatchError: 2,
  BatchOperationMismatchError: 2,
  BatchNotUndoableError: 2,
  CancelAllNotConfirmedError: 2,
  BlacklistReadError: 2,
  InputFileError: 2,
};

/** The exit code of an error the command reports as one line, or undefined for any other error. */
export function toldExitCode(error: unknown): number | undefined {
  if (!(error instanceof Error) || !Object.hasOwn(TOLD_ERRORS, error.name)) return undefined;
  return TOLD_ERRORS[error.name];
}
