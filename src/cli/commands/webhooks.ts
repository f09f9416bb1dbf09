import type { Command } from 'commander';
import { actOptions, actorOf } from '../actor.ts';
import { configFor } from '../context.ts';
import { UsageError } from '../errors.ts';
import { withRuntimes } from '../session.ts';

/** `livequeue webhooks replay <name>`: the deliveries that used every attempt, sent again. */
export function registerWebhooks(program: Command): void {
  const webhooks = program
    .command('webhooks')
    .description('Webhook deliveries of LIVEQUEUE_WEBHOOKS_FILE (delivered by `livequeue worker`): replay those that failed for good.');
  actOptions(
    webhooks
      .command('replay')
      .description('Put an endpoint\'s failed deliveries (every attempt used; `livequeue status` counts them) back in its queue with fresh attempts.')
      .argument('<name>', 'the endpoint\'s name in LIVEQUEUE_WEBHOOKS_FILE'),
  )
    .option('--json', 'print one JSON array: {account, endpoint, replayed} per account')
    .addHelpText('after', '\nEvery account, unless --account names one.\nExamples:\n  $ livequeue webhooks replay moderation-feed\n  $ livequeue --account main webhooks replay moderation-feed --reason "receiver fixed"')
    .action(async (name: string, opts: { json?: boolean }, command: Command) => {
      const config = configFor(command);
      const endpoint = config.webhooks.endpoints.find((e) => e.name === name);
      if (!endpoint) {
        const known = config.webhooks.endpoints.map((e) => e.name).join(', ');
        throw new UsageError(`no webhook endpoint named "${name}" in LIVEQUEUE_WEBHOOKS_FILE (${known === '' ? 'none is configured' : `known: ${known}`})`);
      }
      const by = actorOf(command);
      // Loaded on use, as every command's heavy modules are.
      const { replayFailedDeliveries } = await import('../../webhooks/dead-deliveries.ts');
      const results = await withRuntimes(config, config.accountNamed ? [config.account] : undefined, (runtimes) =>
        Promise.all(
          runtimes.map(async (runtime) => {
            const replayed = await replayFailedDeliveries(runtime, endpoint);
            if (replayed > 0) await runtime.audit.act({ act: 'replay', ...by, counts: { webhookDeliveries: replayed } });
            return { account: runtime.name, endpoint: name, replayed };
          }),
        ),
      );
      if (opts.json) process.stdout.write(`${JSON.stringify(results)}\n`);
      else for (const r of results) process.stdout.write(`replayed ${r.replayed} failed deliveries to ${r.endpoint}${results.length > 1 ? ` (account ${r.account})` : ''}\n`);
    });
}
