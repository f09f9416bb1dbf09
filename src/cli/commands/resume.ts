import { Command, Argument } from 'commander';
import { operationFromSlug } from '../../live/operations.ts';
import { Pauses } from '../../queue/pauses.ts';
import { configFor } from '../context.ts';
import { withRedis } from '../session.ts';

export function registerResume(program: Command): void {
  program
    .command('resume')
    .description('Lift an account-level hold on an operation: a pause after credential or permission errors, or (for forbid) the full-blacklist hold.')
    .addArgument(new Argument('<operation>', 'operation to resume').choices(['forbid', 'stop-monitor']))
    .addHelpText('after', '\nExamples:\n  $ livequeue resume forbid          # after fixing the credentials, or freeing blacklist room\n  $ livequeue resume stop-monitor')
    .action(async (slug: string, _opts: unknown, command: Command) => {
      const config = configFor(command);
      const operation = operationFromSlug(slug)!;
      const released = await withRedis(config, (redis) => new Pauses(redis, config.prefix, config.account).resume(operation));
      process.stdout.write(`resumed ${slug}${operation === 'ForbidLiveStream' ? `; released ${released} bans held for the blacklist` : ''}\n`);
    });
}
