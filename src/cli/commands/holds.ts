import { Command, Argument } from 'commander';
import type { Config } from '../../config.ts';
import { operationFromSlug, type Operation } from '../../live/operations.ts';
import { Holds } from '../../queue/holds.ts';
import { configFor } from '../context.ts';
import { withRedis } from '../session.ts';

const operationArgument = (verb: string) => new Argument('<operation>', `operation to ${verb}`).choices(['forbid', 'stop-monitor']);

async function withHolds<T>(config: Config, use: (holds: Holds) => Promise<T>): Promise<T> {
  return withRedis(config, async (redis) => {
    const holds = new Holds(redis, config.prefix, config.account, config.holds);
    try {
      return await use(holds);
    } finally {
      await holds.close();
    }
  });
}

/** `pause` and `resume`: an operator's hand on the holds every worker obeys. */
export function registerHoldCommands(program: Command): void {
  program
    .command('pause')
    .description('Hold an operation by hand: no worker calls it until `livequeue resume`. Jobs wait without using attempts.')
    .addArgument(operationArgument('pause'))
    .option('--reason <text>', 'why, shown by status', 'paused by an operator')
    .addHelpText('after', '\nExamples:\n  $ livequeue pause forbid --reason "classifier misfire, checking"\n  $ livequeue resume forbid')
    .action(async (slug: string, opts: { reason: string }, command: Command) => {
      const config = configFor(command);
      const operation = operationFromSlug(slug) as Operation;
      await withHolds(config, (holds) => holds.pause(operation, opts.reason));
      process.stdout.write(`paused ${slug}: jobs wait until \`livequeue resume ${slug}\`\n`);
    });

  program
    .command('resume')
    .description('Lift every hold on an operation at once: systemic, credentials, account, manual, and (for forbid) the full-blacklist hold.')
    .addArgument(operationArgument('resume'))
    .addHelpText('after', '\nExamples:\n  $ livequeue resume forbid          # after fixing the credentials, or freeing blacklist room\n  $ livequeue resume stop-monitor')
    .action(async (slug: string, _opts: unknown, command: Command) => {
      const config = configFor(command);
      const operation = operationFromSlug(slug) as Operation;
      const { hold, releasedBans } = await withHolds(config, (holds) => holds.resume(operation));
      const lifted = hold ? `lifted the ${hold.reason} hold (${hold.code}, since ${new Date(hold.since).toISOString()})` : 'no hold was in place';
      process.stdout.write(`resumed ${slug}: ${lifted}${operation === 'ForbidLiveStream' ? `; released ${releasedBans} bans held for the blacklist` : ''}\n`);
    });
}
