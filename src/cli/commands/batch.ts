import type { Command } from 'commander';
import { OPERATION_INFO } from '../../live/operations.ts';
import type { BatchCounts } from '../../queue/batches.ts';
import { configFor } from '../context.ts';
import { withRuntime } from '../session.ts';

function formatCounts(c: BatchCounts): string {
  return [
    `batch ${c.batch}: ${c.jobs} ${OPERATION_INFO[c.operation].slug} jobs, enqueued from ${c.createdAt}`,
    `  waiting ${c.waiting}  active ${c.active}  applied ${c.applied}  already-applied ${c.alreadyApplied}  dead-lettered ${c.deadLettered}  cancelled ${c.cancelled}${c.unknown ? `  finished, outcome expired ${c.unknown}` : ''}`,
  ].join('\n');
}

/** `batch show` and `batch cancel`: what one enqueue call meant as one act, seen and stopped. */
export function registerBatch(program: Command): void {
  const batch = program.command('batch').description('See or stop the jobs of one enqueue (a file, standard input, an HTTP request).');

  batch
    .command('show')
    .description('Counts of the batch\'s jobs by state: waiting, active, applied, already-applied, dead-lettered, cancelled.')
    .argument('<id>', 'the batch id printed by enqueue')
    .option('--json', 'print one JSON object')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      const counts = await withRuntime(configFor(command), (runtime) => runtime.batches.show(id));
      process.stdout.write(`${opts.json ? JSON.stringify(counts) : formatCounts(counts)}\n`);
    });

  batch
    .command('cancel')
    .description('Remove the batch\'s jobs that no worker has taken yet: no call is ever made for them; jobs in flight finish.')
    .argument('<id>', 'the batch id printed by enqueue')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExample:\n  $ livequeue batch cancel 20261124T093000-a1b2c3')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      const result = await withRuntime(configFor(command), (runtime) => runtime.batches.cancel(id));
      process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `batch ${id}: cancelled ${result.cancelled} jobs before any call; ${result.inFlight} in flight will finish; ${result.untouched} had finished or were cancelled before\n`);
    });
}
