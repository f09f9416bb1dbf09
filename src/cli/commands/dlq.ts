import { Command, Option } from 'commander';
import { OPERATION_SLUGS, operationFromSlug, OPERATION_INFO, slugList, type Operation } from '../../catalog/operations.ts';
import type { DeadLetterQueue, DeadLetterEntry, DeadLetterFilter } from '../../ledger/dead-letter.ts';
import type { Config } from '../../config.ts';
import { configFor } from '../context.ts';
import { UsageError } from '../errors.ts';
import { actOptions, actorOf } from '../actor.ts';
import type { AccountRuntime } from '../../app/runtime.ts';
import { withRuntime, withRuntimes } from '../session.ts';

interface DlqFlags {
  operation?: string;
  code?: string;
  id?: string[];
  all?: boolean;
  json?: boolean;
  limit?: string;
  offset?: string;
  dryRun?: boolean;
  allAccounts?: boolean;
  confirm?: number;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

function wholeNumber(flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be a whole number of at least ${min} (got "${value}")`);
  return n;
}

function filterOf(flags: DlqFlags): DeadLetterFilter {
  let operation: Operation | undefined;
  if (flags.operation) {
    operation = operationFromSlug(flags.operation);
    if (!operation) throw new UsageError(`--operation: unknown operation "${flags.operation}" (use ${slugList()})`);
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

/** The dead-letter queue of the account the command acts on; each account has its own. */
async function withDeadLetters<T>(command: Command, use: (queue: DeadLetterQueue) => Promise<T>): Promise<T> {
  return withRuntime(configFor(command), (runtime) => use(runtime.deadLetters));
}

const filterFlags = (c: Command) =>
  c
    .addOption(new Option('--operation <op>', 'only this operation').choices(OPERATION_SLUGS))
    .option('--code <code>', 'only entries with this error code')
    .option('--id <id...>', 'only these entry (job) ids');

export function registerDlq(program: Command): void {
  const dlq = program.command('dlq').description('Inspect, replay and purge the dead-letter queue.');
  registerList(dlq);
  registerReplay(dlq);
  registerPurge(dlq);
}

function registerList(dlq: Command): void {
  filterFlags(dlq.command('list'))
    .description('List dead-lettered jobs, oldest first, a page at a time, with their error code, message, RequestId, attempts and parameters.')
    .option('--json', 'print one JSON array')
    .option('--limit <n>', 'entries per page', '100')
    .option('--offset <n>', 'entries to skip', '0')
    .addHelpText('after', '\nExamples:\n  $ livequeue dlq list\n  $ livequeue dlq list --operation forbid --code QuotaExceeded.Blacklist --json\n  $ livequeue dlq list --limit 1000 --offset 1000')
    .action(listAction);
}

async function listAction(flags: DlqFlags, command: Command): Promise<void> {
  const limit = wholeNumber('--limit', flags.limit, 100, 1);
  const offset = wholeNumber('--offset', flags.offset, 0, 0);
  const filter = filterOf(flags);
  const { entries, total, malformed } = await withDeadLetters(command, (queue) => queue.page(filter, offset, limit));
  // Flagged, not fatal: one bad entry must not hide the others.
  if (malformed.length > 0) process.stderr.write(`livequeue: skipped ${plural(malformed.length, 'malformed entry', 'malformed entries')}: ${malformed.map((m) => `${m.id} (${m.problem})`).join('; ')}\n`);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(entries)}\n`);
    return;
  }
  const filtered = filter.operation || filter.code || filter.ids;
  if (total === 0) {
    process.stdout.write(filtered ? 'no dead-letter entry matches\n' : 'dead-letter queue is empty\n');
    return;
  }
  process.stdout.write(formatPage(entries, total, offset));
}

/** The page's entries, then which of the total they are and how to see more. */
function formatPage(entries: readonly DeadLetterEntry[], total: number, offset: number): string {
  const shown = entries.length === 0 ? `none past offset ${offset}` : `${offset + 1}-${offset + entries.length}`;
  const more = offset + entries.length < total ? `; --offset ${offset + entries.length} for more` : '';
  return `${entries.map(formatEntry).join('\n')}${entries.length > 0 ? '\n' : ''}${shown} of ${plural(total, 'entry', 'entries')}${more}\n`;
}

function registerReplay(dlq: Command): void {
  actOptions(filterFlags(dlq.command('replay')))
    .description('Put dead-lettered jobs back on their queues with fresh attempts.')
    .option('--all', 'replay every entry')
    .option('--dry-run', 'list what would be replayed, and do nothing')
    .option('--all-accounts', 'every account of the deployment, not only --account')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nAn entry whose job is queued again already (the same stream enqueued since) is not replayed: it stays, and is named.\nExamples:\n  $ livequeue dlq replay --code InternalError --dry-run\n  $ livequeue dlq replay --id forbid.default.0f3c... stop-monitor.default.4454...\n  $ livequeue dlq replay --all\nExit code 1 when an --id matches no entry.')
    .action(bulkAction('replay', 'replayed', async (queue, filter, config) => {
      const { replayed, alreadyQueued } = await queue.replayEntries(filter, config.retry);
      return { count: replayed, alreadyQueued };
    }));
}

function registerPurge(dlq: Command): void {
  actOptions(filterFlags(dlq.command('purge')))
    .description('Delete dead-lettered jobs for good.')
    .option('--all', 'purge every entry (needs --confirm)')
    .option('--confirm <count>', 'with --all: the number of entries you expect to purge; refused when more match', wholeCount('--confirm'))
    .option('--dry-run', 'list what would be purged, and do nothing')
    .option('--all-accounts', 'every account of the deployment, not only --account')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExamples:\n  $ livequeue dlq purge --code StreamMonitorNotExist --dry-run\n  $ livequeue dlq purge --all                # prints the count to confirm, purges nothing\n  $ livequeue dlq purge --all --confirm 42\nExit code 1 when an --id matches no entry; 2 when --all is not confirmed.')
    .action(bulkAction('purge', 'purged', async (queue, filter) => ({ count: await queue.purge(filter) })));
}

const wholeCount = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number (got "${value}")`);
  return n;
};

/** The command as typed, with `--confirm N` in place of any --confirm given: what to run to confirm. */
function confirmCommand(n: number): string {
  const args = process.argv.slice(2);
  const kept = args.filter((a, i) => !a.startsWith('--confirm=') && a !== '--confirm' && args[i - 1] !== '--confirm');
  const quote = (a: string) => (/^[A-Za-z0-9_.,:/@=+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['livequeue', ...kept, '--confirm', String(n)].map(quote).join(' ');
}

/**
 * `purge --all` empties the queue for good: like `batch cancel --all` it needs
 * --confirm with at least the count that matches, and names the command that
 * confirms it. The check runs after the count, before anything is purged.
 */
function purgeAllGate(flags: DlqFlags): ((matched: number) => void) | undefined {
  if (flags.confirm !== undefined && !flags.all) throw new UsageError('--confirm goes with --all');
  if (!flags.all || flags.dryRun) return undefined;
  return (matched) => {
    if (matched === 0 || (flags.confirm !== undefined && flags.confirm >= matched)) return;
    const counted = flags.confirm === undefined ? `${plural(matched, 'entry', 'entries')} would be purged` : `${plural(matched, 'entry', 'entries')} match now, more than the ${flags.confirm} confirmed`;
    throw new UsageError(`dlq purge --all: ${counted}; nothing was purged; to purge them: ${confirmCommand(matched)}`);
  };
}

type BulkVerb = 'replay' | 'purge';
type BulkRun = (queue: DeadLetterQueue, filter: DeadLetterFilter, config: Config) => Promise<{ count: number; alreadyQueued?: string[] }>;

/** What replay or purge did (or would do) across the accounts it acted on. */
interface BulkOutcome {
  entries: DeadLetterEntry[];
  count: number;
  /** Entries replay left because a job of the same id is queued already. */
  queued: string[];
  /** Ids named with --id that matched no entry. */
  missing: string[];
}

/**
 * Replay and purge: what they touched, ids named with --id that matched no
 * entry (exit 1), and --dry-run to see the entries first. Replay also names
 * the entries it left because a job of the same id is queued already.
 */
function bulkAction(verb: BulkVerb, past: string, run: BulkRun) {
  return async (flags: DlqFlags, command: Command) => {
    const filter = guardedFilter(flags, verb);
    const gate = verb === 'purge' ? purgeAllGate(flags) : undefined;
    const by = actorOf(command);
    const outcome = await runOnAccounts(flags, configFor(command), filter, gate, async (queue, f, config, runtime) => {
      const done = await run(queue, f, config);
      await runtime.audit.act({ act: verb, ...by, counts: { [past]: done.count } });
      return done;
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(bulkSummary(verb, past, flags, outcome))}\n`);
    else printBulkOutcome(verb, past, flags, outcome);
    if (outcome.missing.length > 0) process.exitCode = 1;
  };
}

type AccountRun = (...args: [...Parameters<BulkRun>, AccountRuntime]) => ReturnType<BulkRun>;

/** Counts the matching entries of every account first; `gate` may refuse the count before any account is touched. */
async function runOnAccounts(flags: DlqFlags, config: Config, filter: DeadLetterFilter, gate: ((matched: number) => void) | undefined, run: AccountRun): Promise<BulkOutcome> {
  // Each account has its own dead letters: one account, unless --all-accounts.
  const perAccount = await withRuntimes(config, flags.allAccounts ? undefined : [config.account], async (runtimes) => {
    const matched = await Promise.all(runtimes.map((runtime) => runtime.deadLetters.list(filter)));
    if (flags.dryRun) return matched.map((entries) => ({ entries, count: entries.length, alreadyQueued: undefined }));
    gate?.(matched.flat().length);
    return Promise.all(runtimes.map(async (runtime, i) => ({ entries: matched[i]!, ...(await run(runtime.deadLetters, filter, config, runtime)) })));
  });
  const entries = perAccount.flatMap((a) => a.entries);
  return {
    entries,
    count: perAccount.reduce((n, a) => n + a.count, 0),
    queued: perAccount.flatMap((a) => a.alreadyQueued ?? []),
    missing: (filter.ids ?? []).filter((id) => !entries.some((e) => e.id === id)),
  };
}

/** The --json answer. */
function bulkSummary(verb: BulkVerb, past: string, flags: DlqFlags, { entries, count, queued, missing }: BulkOutcome) {
  return {
    [flags.dryRun ? `would${verb === 'replay' ? 'Replay' : 'Purge'}` : past]: count,
    ids: entries.map((e) => e.id),
    notFound: missing,
    dryRun: flags.dryRun === true,
    ...(verb === 'replay' && !flags.dryRun ? { alreadyQueued: queued } : {}),
  };
}

function printBulkOutcome(verb: BulkVerb, past: string, flags: DlqFlags, { entries, count, queued, missing }: BulkOutcome): void {
  process.stdout.write(`${flags.dryRun ? `would ${verb}` : past} ${plural(count, 'entry', 'entries')}${flags.dryRun && entries.length > 0 ? `: ${entries.map((e) => e.id).join(' ')}` : ''}\n`);
  if (queued.length > 0) {
    process.stdout.write(
      `not replayed, left in the dead-letter queue: ${plural(queued.length, 'entry', 'entries')} whose job is queued again already (the same stream or monitor, enqueued since); that job does the work: ${queued.join(' ')}\n` +
        `  once it has run, \`livequeue dlq purge --id ${queued.length === 1 ? queued[0] : 'ID...'}\` removes the entry\n`,
    );
  }
  if (missing.length > 0) process.stderr.write(`livequeue: no dead-letter entry with id ${missing.join(', ')}\n`);
}
