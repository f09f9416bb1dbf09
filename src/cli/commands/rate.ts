import { Argument, type Command } from 'commander';
import { OPERATION_INFO, OPERATION_SLUGS, operationFromSlug, type Operation } from '../../catalog/operations.ts';
import { configFor } from '../context.ts';
import { actOptions, actorOf } from '../actor.ts';
import { UsageError } from '../errors.ts';
import { withRuntime } from '../session.ts';

const operationArgument = () => new Argument('<operation>', 'operation whose rate to change').choices(OPERATION_SLUGS);

/** `rate set` and `rate reset`: an operator's rate every worker paces at within a second, without a restart. */
export function registerRate(program: Command): void {
  const rate = program
    .command('rate')
    .description('Change the rate of an operation at runtime: every worker of the account follows it at its next call.');

  actOptions(rate
    .command('set')
    .description('Pace an operation at RATE calls per second instead of the configured rate, until `rate reset` or --for.')
    .addArgument(operationArgument())
    .argument('<rate>', 'calls per second, above 0 and at most the configured rate (unless --allow-above-config)'))
    .option('--for <duration>', 'end by itself after this long: 90s, 30m, 2h, 1d')
    .option('--allow-above-config', 'allow a rate above the configured one (the account\'s quota was raised)')
    .addHelpText('after', '\nExamples:\n  $ livequeue rate set forbid 5 --for 2h --reason "shared quota with the moderation console"\n  $ livequeue --account main rate set stop-monitor 4\n  $ livequeue rate reset forbid')
    .action(async (slug: string, value: string, opts: { for?: string; allowAboveConfig?: boolean }, command: Command) => {
      const config = configFor(command);
      const by = actorOf(command);
      const operation = operationFromSlug(slug) as Operation;
      const { parseDurationMs, rateOverrideProblem, DURATION_RULE } = await import('../../ratelimit/rate-override.ts');
      const forMs = opts.for === undefined ? undefined : parseDurationMs(opts.for);
      if (opts.for !== undefined && forMs === undefined) throw new UsageError(`--for must be ${DURATION_RULE} (got "${opts.for}")`);
      const wanted = /^\s*[-+]?(\d+\.?\d*|\.\d+)\s*$/.test(value) ? Number(value) : Number.NaN;
      const configured = config.accounts.find((a) => a.name === config.account)?.qps[operation];
      const problem = rateOverrideProblem(wanted, configured ?? Number.POSITIVE_INFINITY, opts.allowAboveConfig === true, {
        rate: `<rate>`, allowAbove: '--allow-above-config', configured: `${OPERATION_INFO[operation].qpsVariable} of account ${config.account}`,
      });
      if (problem) throw new UsageError(Number.isNaN(wanted) ? `<rate> must be a number of calls per second above 0 (got "${value}")` : problem);
      await withRuntime(config, async (runtime) => {
        const set = await runtime.bucket(operation).setOverride({ rate: wanted, ...by }, forMs);
        await runtime.audit.act({ act: 'rate', ...by, operation, counts: { rate: wanted } });
        const until = set.until === undefined ? 'until `livequeue rate reset`' : `until ${new Date(set.until).toISOString()}`;
        process.stdout.write(`rate ${slug} set to ${wanted} calls per second (account ${runtime.name}, configured ${runtime.settings.qps[operation]}) ${until}; every worker follows it at its next call\n`);
      });
    });

  actOptions(rate
    .command('reset')
    .description('Back to the configured rate (the override is removed; the bucket climbs back at once unless it was throttled).')
    .addArgument(operationArgument()))
    .action(async (slug: string, _opts: unknown, command: Command) => {
      const config = configFor(command);
      const by = actorOf(command);
      const operation = operationFromSlug(slug) as Operation;
      await withRuntime(config, async (runtime) => {
        const previous = await runtime.bucket(operation).resetOverride();
        await runtime.audit.act({ act: 'rate', ...by, operation, counts: { reset: 1 } });
        const was = previous ? `the rate ${previous.rate} set by ${previous.actor} is removed` : 'no rate was set';
        process.stdout.write(`rate ${slug} reset to the configured ${runtime.settings.qps[operation]} calls per second (account ${runtime.name}): ${was}\n`);
      });
    });
}
