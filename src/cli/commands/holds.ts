import { Command, Argument } from 'commander';
import type { Config } from '../../config.ts';
import { OPERATION_INFO, OPERATION_SLUGS, operationFromSlug, type Operation } from '../../catalog/operations.ts';
import type { AccountRuntime } from '../../app/runtime.ts';
import { configFor } from '../context.ts';
import { actOptions, actorOf } from '../actor.ts';
import { withRuntimes } from '../session.ts';

const operationArgument = (verb: string) => new Argument('<operation>', `operation to ${verb}`).choices(OPERATION_SLUGS);

/** The accounts a hold command acts on: the selected one, or all with --all-accounts. */
async function withHolds<T>(config: Config, allAccounts: boolean | undefined, use: (runtime: AccountRuntime) => Promise<T>): Promise<T[]> {
  return withRuntimes(config, allAccounts ? undefined : [config.account], (runtimes) => Promise.all(runtimes.map(use)));
}

/** `pause` and `resume`: an operator's hand on the holds every worker obeys. */
export function registerHoldCommands(program: Command): void {
  actOptions(program
    .command('pause')
    .description('Hold an operation by hand: no worker calls it until `livequeue resume`. Jobs wait without using attempts.')
    .addArgument(operationArgument('pause')))
    .option('--all-accounts', 'every account of the deployment, not only --account')
    .addHelpText('after', '\nExamples:\n  $ livequeue pause forbid --reason "classifier misfire, checking"\n  $ livequeue resume forbid')
    .action(async (slug: string, opts: { allAccounts?: boolean }, command: Command) => {
      const config = configFor(command);
      const by = actorOf(command);
      const operation = operationFromSlug(slug) as Operation;
      const accounts = await withHolds(config, opts.allAccounts, async (runtime) => {
        // The reason is what `status` shows as the hold's message.
        await runtime.holds.pause(operation, by.reason ?? 'paused by an operator');
        await runtime.audit.act({ act: 'pause', ...by, operation });
        return runtime.name;
      });
      process.stdout.write(`paused ${slug} (${accounts.map((a) => `account ${a}`).join(', ')}): jobs wait until \`livequeue resume ${slug}\`\n`);
    });

  actOptions(program
    .command('resume')
    .description('Lift every hold on an operation at once: systemic, credentials, account, manual, and (for forbid) the full-blacklist hold.')
    .addArgument(operationArgument('resume')))
    .option('--all-accounts', 'every account of the deployment, not only --account')
    .addHelpText('after', '\nExamples:\n  $ livequeue resume forbid          # after fixing the credentials, or freeing blacklist room\n  $ livequeue resume stop-monitor')
    .action(async (slug: string, opts: { allAccounts?: boolean }, command: Command) => {
      const config = configFor(command);
      const by = actorOf(command);
      const operation = operationFromSlug(slug) as Operation;
      const results = await withHolds(config, opts.allAccounts, async (runtime) => {
        const resumed = await runtime.holds.resume(operation);
        await runtime.audit.act({ act: 'resume', ...by, operation, counts: { releasedBans: resumed.releasedBans } });
        return { account: runtime.name, ...resumed };
      });
      for (const { account, hold, releasedBans } of results) {
        const lifted = hold ? `lifted the ${hold.reason} hold (${hold.code}, since ${new Date(hold.since).toISOString()})` : 'no hold was in place';
        const who = config.accounts.length > 1 || opts.allAccounts ? ` (account ${account})` : '';
        process.stdout.write(`resumed ${slug}${who}: ${lifted}${OPERATION_INFO[operation].addsToBlacklist ? `; released ${releasedBans} bans held for the blacklist` : ''}\n`);
      }
    });
}
