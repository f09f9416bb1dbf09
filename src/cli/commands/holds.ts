import { Command, Argument } from 'commander';
import type { Config } from '../../config.ts';
import { OPERATION_INFO, OPERATION_SLUGS, operationFromSlug, type Operation } from '../../catalog/operations.ts';
import type { Holds } from '../../holds/holds.ts';
import { configFor } from '../context.ts';
import { withRuntimes } from '../session.ts';

const operationArgument = (verb: string) => new Argument('<operation>', `operation to ${verb}`).choices(OPERATION_SLUGS);

/** The accounts a hold command acts on: the selected one, or all with --all-accounts. */
async function withHolds<T>(config: Config, allAccounts: boolean | undefined, use: (holds: Holds, account: string) => Promise<T>): Promise<T[]> {
  return withRuntimes(config, allAccounts ? undefined : [config.account], (runtimes) => Promise.all(runtimes.map((r) => use(r.holds, r.name))));
}

/** `pause` and `resume`: an operator's hand on the holds every worker obeys. */
export function registerHoldCommands(program: Command): void {
  program
    .command('pause')
    .description('Hold an operation by hand: no worker calls it until `livequeue resume`. Jobs wait without using attempts.')
    .addArgument(operationArgument('pause'))
    .option('--reason <text>', 'why, shown by status', 'paused by an operator')
    .option('--all-accounts', 'every account of the deployment, not only --account')
    .addHelpText('after', '\nExamples:\n  $ livequeue pause forbid --reason "classifier misfire, checking"\n  $ livequeue resume forbid')
    .action(async (slug: string, opts: { reason: string; allAccounts?: boolean }, command: Command) => {
      const config = configFor(command);
      const operation = operationFromSlug(slug) as Operation;
      const accounts = await withHolds(config, opts.allAccounts, async (holds, account) => {
        await holds.pause(operation, opts.reason);
        return account;
      });
      process.stdout.write(`paused ${slug} (${accounts.map((a) => `account ${a}`).join(', ')}): jobs wait until \`livequeue resume ${slug}\`\n`);
    });

  program
    .command('resume')
    .description('Lift every hold on an operation at once: systemic, credentials, account, manual, and (for forbid) the full-blacklist hold.')
    .addArgument(operationArgument('resume'))
    .option('--all-accounts', 'every account of the deployment, not only --account')
    .addHelpText('after', '\nExamples:\n  $ livequeue resume forbid          # after fixing the credentials, or freeing blacklist room\n  $ livequeue resume stop-monitor')
    .action(async (slug: string, opts: { allAccounts?: boolean }, command: Command) => {
      const config = configFor(command);
      const operation = operationFromSlug(slug) as Operation;
      const results = await withHolds(config, opts.allAccounts, async (holds, account) => ({ account, ...(await holds.resume(operation)) }));
      for (const { account, hold, releasedBans } of results) {
        const lifted = hold ? `lifted the ${hold.reason} hold (${hold.code}, since ${new Date(hold.since).toISOString()})` : 'no hold was in place';
        const who = config.accounts.length > 1 || opts.allAccounts ? ` (account ${account})` : '';
        process.stdout.write(`resumed ${slug}${who}: ${lifted}${OPERATION_INFO[operation].addsToBlacklist ? `; released ${releasedBans} bans held for the blacklist` : ''}\n`);
      }
    });
}
