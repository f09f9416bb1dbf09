import { Command } from 'commander';
import { OPERATIONS } from '../catalog/operations.ts';
import { addConfigFlags, loadConfigModule } from './context.ts';
// Each command module holds its options and help; what an action needs (the
// configuration parser, Redis, BullMQ, the API client, the HTTP server) it
// loads when it runs, so `--help` and `--version` load none of it.
import { registerBanCommands } from './commands/ban.ts';
import { registerBatch } from './commands/batch.ts';
import { registerBlacklist } from './commands/blacklist.ts';
import { registerDemo } from './commands/demo.ts';
import { registerDlq } from './commands/dlq.ts';
import { registerEnqueue } from './commands/enqueue.ts';
import { registerHistory } from './commands/history.ts';
import { registerHoldCommands } from './commands/holds.ts';
import { registerRate } from './commands/rate.ts';
import { registerServe } from './commands/serve.ts';
import { registerSimulate } from './commands/simulate.ts';
import { registerStatus } from './commands/status.ts';
import { registerWebhooks } from './commands/webhooks.ts';
import { registerWorker } from './commands/worker.ts';
import { packageVersion } from '../package-version.ts';


/**
 * The `livequeue` command with every subcommand, its options and help, ready to
 * parse; building it runs nothing and loads only what the help needs.
 */
export function buildProgram(): Command {
  const program = new Command('livequeue')
    .description(`Rate-limited job queue for ApsaraVideo Live: ${OPERATIONS.join(', ')} at the full QPS the API allows, never faster.`)
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .showHelpAfterError()
    // Before any subcommand is made: each copies its parent's help settings, so nested ones show them too.
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();
  addConfigFlags(program);
  // Every action parses the configuration (configFor): its parser is loaded once an action is about to run.
  program.hook('preAction', loadConfigModule);
  program.addHelpText('after', `
Examples:
  $ livequeue demo                                  # local end-to-end run on the built-in simulator
  $ livequeue worker --concurrency 16               # drain every operation until Ctrl-C
  $ livequeue enqueue forbid --file bans.jsonl      # ban every stream in the file
  $ livequeue ban demo.aliyundoc.com/liveApp/s1 --for 2h --reason "spam"
  $ livequeue status --watch
  $ livequeue dlq list --code QuotaExceeded.Blacklist

Configuration comes from environment variables; each flag above overrides its variable.
Exit codes: 0 done; 1 some input was invalid (the rest went through); 2 usage, configuration
or a refused act; 3 Redis is out of reach (retry as is).`);

  registerDemo(program);
  registerWorker(program);
  registerEnqueue(program);
  registerBanCommands(program);
  registerStatus(program);
  registerDlq(program);
  registerHoldCommands(program);
  registerRate(program);
  registerBatch(program);
  registerHistory(program);
  registerBlacklist(program);
  registerServe(program);
  registerWebhooks(program);
  registerSimulate(program);
  return program;
}
