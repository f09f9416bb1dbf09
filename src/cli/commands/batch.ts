import { Option, type Command } from 'commander';
import { OPERATION_INFO, OPERATION_SLUGS, operationFromSlug, type Operation } from '../../catalog/operations.ts';
import type { BatchCounts, CancelAllResult, UndoResult } from '../../batches/batches.ts';
import { configFor } from '../context.ts';
import { UsageError } from '../errors.ts';
import { actOptions, actorOf } from '../actor.ts';
import type { Actor } from '../../ledger/audit.ts';
import { withRuntime } from '../session.ts';

function describeActor(by: Actor): string {
  return `${by.actor}${by.reason ? `, reason "${by.reason}"` : ''}${by.ticket ? `, ticket ${by.ticket}` : ''}`;
}

function formatCounts(c: BatchCounts): string {
  const lines = [
    `batch ${c.batch}: ${c.jobs} ${OPERATION_INFO[c.operation].slug} jobs, enqueued from ${c.createdAt}`,
    `  waiting ${c.waiting}  active ${c.active}  applied ${c.applied}  already-applied ${c.alreadyApplied}  dead-lettered ${c.deadLettered}  cancelled ${c.cancelled}${c.unknown ? `  finished, outcome expired ${c.unknown}` : ''}`,
  ];
  if (c.by) lines.push(`  by ${describeActor(c.by)}`);
  if (c.superseded) lines.push(`  superseded ${c.superseded}: their stream is a later act's now (enqueued or banned again by another batch, or lifted since); cancel and undo leave them`);
  if (c.undoRequestedAt) lines.push(`  undo asked ${c.undoRequestedAt}${c.undoBy ? ` by ${describeActor(c.undoBy)}` : ''}: undone ${c.undone}  resume pending ${c.undoPending}  resume dead-lettered ${c.undoFailed}`);
  return lines.join('\n');
}

function formatUndo(id: string, r: UndoResult): string {
  return [
    `batch ${id}: cancelled ${r.cancelled} jobs before any call; ${r.inFlight} in flight are lifted as soon as they land`,
    `  enqueued ResumeLiveStream for ${r.resumesEnqueued} applied bans${r.undoneBefore ? `; ${r.undoneBefore} were undone before` : ''}`,
    ...(r.interruptOnly ? [`  ${r.interruptOnly} Oneshot=yes bans only interrupted a session: nothing to lift`] : []),
    ...(r.alreadyApplied ? [`  ${r.alreadyApplied} bans existed before this batch (already applied): left in place`] : []),
    ...(r.supersededBans ? [`  ${r.supersededBans} bans are no longer this batch's (banned again by a later batch, or lifted since): left alone`] : []),
    `  follow it with: livequeue batch show ${id}`,
  ].join('\n');
}

function formatCancelAll(r: CancelAllResult): string {
  const parts = Object.entries(r.cancelled).map(([op, n]) => `${OPERATION_INFO[op as Operation].slug} ${n}`);
  return `cancelled every pending job before any call: ${parts.join(', ')}; jobs in flight finish\n`;
}

const count = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number (got "${value}")`);
  return n;
};

/** `batch show|cancel|undo`: what one enqueue call meant as one act, seen, stopped and taken back. */
export function registerBatch(program: Command): void {
  const batch = program.command('batch').description('See, stop or take back the jobs of one enqueue (a file, standard input, an HTTP request).');

  batch
    .command('show')
    .description('Counts of the batch\'s jobs by how this batch\'s own job of each stream stands: waiting, active, applied, already-applied, dead-lettered, cancelled, undone; and superseded, those a later act took over.')
    .argument('<id>', 'the batch id printed by enqueue')
    .option('--json', 'print one JSON object')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      const counts = await withRuntime(configFor(command), (runtime) => runtime.batches.show(id));
      process.stdout.write(`${opts.json ? JSON.stringify(counts) : formatCounts(counts)}\n`);
    });

  actOptions(batch
    .command('cancel'))
    .description('Remove the batch\'s jobs that no worker has taken yet: no call is ever made for them; jobs in flight finish, and a stream a later batch enqueued again is left to it.')
    .argument('[id]', 'the batch id printed by enqueue')
    .option('--all', 'every pending job of the account, whichever batch added it (needs --confirm)')
    .option('--confirm <count>', 'with --all: the pending count you expect; refused when more are pending', count('--confirm'))
    .addOption(new Option('--operation <op>', 'with --all: only this operation').choices(OPERATION_SLUGS))
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExamples:\n  $ livequeue batch cancel 20261124T093000-a1b2c3\n  $ livequeue batch cancel --all            # prints the pending count to confirm\n  $ livequeue batch cancel --all --confirm 5120')
    .action(async (id: string | undefined, opts: { all?: boolean; confirm?: number; operation?: string; json?: boolean }, command: Command) => {
      if (opts.all) {
        if (id !== undefined) throw new UsageError('give a batch id or --all, not both');
        const operations = opts.operation ? [operationFromSlug(opts.operation)!] : undefined;
        const result = await withRuntime(configFor(command), (runtime) => runtime.batches.cancelAll(opts.confirm, operations, actorOf(command)));
        process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : formatCancelAll(result));
        return;
      }
      if (id === undefined) throw new UsageError('name the batch to cancel (its id was printed by enqueue); to cancel every pending job use --all');
      if (opts.confirm !== undefined || opts.operation !== undefined) throw new UsageError('--confirm and --operation go with --all');
      const result = await withRuntime(configFor(command), (runtime) => runtime.batches.cancel(id, actorOf(command)));
      process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `batch ${id}: cancelled ${result.cancelled} jobs before any call; ${result.inFlight} in flight will finish; ${result.untouched} had finished or were cancelled before${result.superseded ? ` (${result.superseded} of them enqueued again by a later batch since: left to it)` : ''}\n`);
    });

  actOptions(batch
    .command('undo'))
    .description('Take a batch of bans back: cancel what is pending, then lift (ResumeLiveStream) every ban the batch applied that still stands as its own. Running it again lifts nothing twice.')
    .argument('<id>', 'the batch id printed by enqueue')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nBans that existed before the batch (already applied) are left in place: someone else made them.\nSo are bans a later batch made again after a lift: they are that batch\'s.\nA batch of monitor stops cannot be undone: the API cannot restart a stopped monitor.\nExample:\n  $ livequeue batch undo 20261124T093000-a1b2c3')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      const result = await withRuntime(configFor(command), (runtime) => runtime.batches.undo(id, actorOf(command)));
      process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${formatUndo(id, result)}\n`);
    });
}
