import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.ts';
import { OPERATIONS } from '../live/operations.ts';
import { CredentialsUnavailableError } from '../live/client.ts';
import { UnknownAccountError } from '../account/runtime.ts';
import { InputFileError } from '../jobs/input.ts';
import { BatchNotUndoableError, BatchOperationMismatchError, CancelAllNotConfirmedError, UnknownBatchError } from '../queue/batches.ts';
import { BlacklistReadError } from '../account/blacklist-headroom.ts';
import { RedisUnavailableError } from '../redis.ts';
import { addConfigFlags } from './context.ts';
import { UsageError } from './errors.ts';
import { registerBatch } from './commands/batch.ts';
import { registerBlacklist } from './commands/blacklist.ts';
import { registerDemo } from './commands/demo.ts';
import { registerDlq } from './commands/dlq.ts';
import { registerEnqueue } from './commands/enqueue.ts';
import { registerHoldCommands } from './commands/holds.ts';
import { registerServe } from './commands/serve.ts';
import { registerSimulate } from './commands/simulate.ts';
import { registerStatus } from './commands/status.ts';
import { registerWorker } from './commands/worker.ts';

const program = new Command('livequeue')
  .description(`Rate-limited job queue for ApsaraVideo Live: ${OPERATIONS.join(', ')} at the full QPS the API allows, never faster.`)
  .showHelpAfterError()
  .exitOverride();
addConfigFlags(program);
program.addHelpText('after', `
Examples:
  $ livequeue demo                                  # local end-to-end run on the built-in simulator
  $ livequeue worker --concurrency 16               # drain every operation until Ctrl-C
  $ livequeue enqueue forbid --file bans.jsonl      # ban every stream in the file
  $ livequeue status --watch
  $ livequeue dlq list --code QuotaExceeded.Blacklist

Configuration comes from environment variables; each flag above overrides its variable.`);

registerDemo(program);
registerWorker(program);
registerEnqueue(program);
registerStatus(program);
registerDlq(program);
registerHoldCommands(program);
registerBatch(program);
registerBlacklist(program);
registerServe(program);
registerSimulate(program);

/** `RedisUnavailableError` -> `redis-unavailable`. */
function errorCode(name: string): string {
  return name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
}

/** Errors whose message says all a user needs: printed as one line, never as a stack. */
const TOLD_ERRORS = [
  ConfigError, UsageError, RedisUnavailableError, CredentialsUnavailableError, UnknownAccountError,
  UnknownBatchError, BatchOperationMismatchError, BatchNotUndoableError, CancelAllNotConfirmedError, BlacklistReadError, InputFileError,
];

try {
  await program.parseAsync(process.argv);
  // Keep-alive sockets and Redis connections would hold the process open; the command is done.
  process.exit(process.exitCode ?? 0);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  if (TOLD_ERRORS.some((kind) => error instanceof kind)) {
    const { message, name } = error as Error;
    process.stderr.write(`livequeue: ${message}\n`);
    // A script reading --json output gets the failure as JSON too.
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ error: errorCode(name), message })}\n`);
    process.exit(error instanceof RedisUnavailableError ? 1 : 2);
  }
  throw error;
}
