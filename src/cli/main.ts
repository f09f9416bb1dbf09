import { CommanderError } from 'commander';
import { EXIT_CODES, LivequeueError } from '../errors.ts';
import { buildProgram } from './program.ts';

const program = buildProgram();

try {
  await program.parseAsync(process.argv);
  // Keep-alive sockets and Redis connections would hold the process open; the command is done.
  process.exit(process.exitCode ?? 0);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  if (error instanceof LivequeueError) {
    const { code, message } = error;
    process.stderr.write(`livequeue: ${message}\n`);
    // A script reading --json output gets the failure as JSON too.
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ error: code, message })}\n`);
    process.exit(EXIT_CODES[error.kind]);
  }
  throw error;
}
