import type { Command } from 'commander';
import { OPERATIONS, operationFromSlug, slugList, type Operation } from '../../catalog/operations.ts';
import { configFor, namedAccounts } from '../context.ts';
import { UsageError } from '../errors.ts';

export function parseOperations(value: string): Operation[] {
  const operations = value.split(',').map((s) => s.trim()).filter(Boolean).map((slug) => {
    const op = operationFromSlug(slug);
    if (!op) throw new UsageError(`--operations: unknown operation "${slug}" (use ${slugList()})`);
    return op;
  });
  if (operations.length === 0) throw new UsageError(`--operations must name at least one of ${slugList()}`);
  return [...new Set(operations)];
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('Run workers until SIGINT/SIGTERM, then finish in-flight calls and exit 0.')
    // No default list: without the flag a worker drains every operation, so nothing a user can enqueue waits for a worker nobody runs.
    .option('--operations <list>', `comma-separated operations to drain: ${slugList()} (default: all of them)`)
    .option('--concurrency <n>', 'jobs in flight per operation (WORKER_CONCURRENCY)')
    .addHelpText('after', '\nServes every account of LIVEQUEUE_ACCOUNTS_FILE (or the one the environment describes); --account, more than once, narrows it.\nExamples:\n  $ LIVE_ENDPOINT=http://127.0.0.1:8787 livequeue worker --operations forbid --concurrency 16\n  $ LIVEQUEUE_ACCOUNTS_FILE=accounts.json livequeue --account main --account backup worker')
    .action(async (opts: { operations?: string; concurrency?: string }, command: Command) => {
      const config = configFor(command, { WORKER_CONCURRENCY: opts.concurrency }, true);
      const accounts = namedAccounts(command);
      // Loaded on use: every command pays only for its own modules.
      const { runWorkers } = await import('../../app/worker-process.ts');
      await runWorkers(config, { accounts, operations: opts.operations === undefined ? [...OPERATIONS] : parseOperations(opts.operations) });
    });
}
