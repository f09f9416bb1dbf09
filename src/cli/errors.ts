import { ERRORS, EXIT_CODES, LivequeueError } from '../errors.ts';

/** A mistake in how the command was called: printed as one line, exit code 2. */
export class UsageError extends LivequeueError {
  constructor(message: string) {
    super('usage', message);
  }
}

/**
 * The exit code of each error the command reports as one line, by its `name`
 * (from the table in src/errors.ts, which imports nothing, so the command
 * knows them all without loading the queue, the Redis client or the API client).
 */
export const TOLD_ERRORS: Readonly<Record<string, number>> = Object.fromEntries(Object.values(ERRORS).map((info) => [info.name, EXIT_CODES[info.kind]]));

/** The exit code of an error the command reports as one line, or undefined for any other error. */
export function toldExitCode(error: unknown): number | undefined {
  return error instanceof LivequeueError ? EXIT_CODES[error.kind] : undefined;
}
