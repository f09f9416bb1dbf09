import { Command, Option } from 'commander';
import { operationFromSlug, OPERATION_INFO, type Operation } from '../../live/operations.ts';
import { DeadLetterQueue, type DeadLetterEntry, type DeadLetterFilter } from '../../queue/dead-letter.ts';
import type { Config } from '../../config.ts';
import { configFor } from '../context.ts';
import { UsageError } from '../errors.ts';
import { withRedis } from '../session.ts';

interface DlqFlags {
  operation?: string;
  code?: string;
  id?: string[];
  all?: boolean;
  json?: boolean;
}

function filterOf(flags: DlqFlags): DeadLetterFilter {
  let operation: Operation | undefined;
  if (flags.operation) {
    operation = operationFromSlug(flags.operation);
    if (!operation) throw new UsageError(`--operation: unknown operation "${flags.operation}" (use forbid, stop-monitor)`);
  }
  return { operation, code: flags.code, ids: flags.id };
}

/** Replay and purge touch many entries at once: they need a filter, or --all to mean everything. */
function guardedFilter(flags: DlqFlags, verb: string): DeadLetterFilter {
  const filter = filterOf(flags);
  if (!filter.code && !filter.ids && !filter.operation && !flags.all) {
    throw new UsageError(`dlq ${verb}: name entries with --code, --id or --operation, or pass --all to ${verb} every entry`);
  }
  return filter;
}

export function formatEntry(e: DeadLetterEntry): string {
  const when = new Date(e.lastFailedAt).toISOString();
  return `${e.id}  ${OPERATION_INFO[e.operation].slug}  ${e.code}  attempts=${e.attempts}  last=${when}  requestId=${e.requestId ?? '-'}  ${e.message}\n    params=${JSON.stringify(e.params)}`;
}

async function withDeadLetters<T>(command: Command, use: (queue: DeadLetterQueue, config: Config) => Promise<T>): Promise<T> {
  const config = configFor(command);
  return withRedis(config, async (redis) => {
    const queue = new DeadLetterQueue(redis, config.prefix);
    try {
      return await use(queue, config);
    } finally {
      await queue.close();
    }
  });
}

const filterFlags = (c: Command) =>
  c
    .addOption(new Option('--operation <op>', 'only this operation').choices(['forbid', 'stop-monitor']))
    .option('--code <code>', 'only entries with this error code')
    .option('--id <id...>', 'only these entry (job) ids');

export function registerDlq(program: Command): void {
  const dlq = program.command('dlq').description('Inspect, replay and purge the dead-letter queue.');

  filterFlags(dlq.command('list'))
    .description('List dead-lettered jobs with their error code, message, RequestId, attempts and parameters.')
    .option('--json', 'print one JSON array')
    .addHelpText('after', '\nExamples:\n  $ livequeue dlq list\n  $ livequeue dlq list --operation forbid --code QuotaExceeded.Blacklist --json')
    .action(async (flags: DlqFlags, command: Command) => {
      const entries = await withDeadLetters(command, (queue) => queue.list(filterOf(flags)));
      if (flags.json) process.stdout.write(`${JSON.stringify(entries)}\n`);
      else process.stdout.write(entries.length === 0 ? 'dead-letter queue is empty\n' : `${entries.map(formatEntry).join('\n')}\n${entries.length} entries\n`);
    });

  filterFlags(dlq.command('replay'))
    .description('Put dead-lettered jobs back on their queues with fresh attempts.')
    .option('--all', 'replay every entry')
    .addHelpText('after', '\nExamples:\n  $ livequeue dlq replay --code InternalError\n  $ livequeue dlq replay --id forbid.default.0f3c... stop-monitor.default.4454...\n  $ livequeue dlq replay --all')
    .action(async (flags: DlqFlags, command: Command) => {
      const filter = guardedFilter(flags, 'replay');
      const replayed = await withDeadLetters(command, (queue, config) => queue.replay(filter, config.retry));
      process.stdout.write(`replayed ${replayed} entries\n`);
    });

  filterFlags(dlq.command('purge'))
    .description('Delete dead-lettered jobs for good.')
    .option('--all', 'purge every entry')
    .addHelpText('after', '\nExamples:\n  $ livequeue dlq purge --code StreamMonitorNotExist\n  $ livequeue dlq purge --all')
    .action(async (flags: DlqFlags, command: Command) => {
      const filter = guardedFilter(flags, 'purge');
      const purged = await withDeadLetters(command, (queue) => queue.purge(filter));
      process.stdout.write(`purged ${purged} entries\n`);
    });
}
