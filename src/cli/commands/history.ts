import type { Command } from 'commander';
import type { AuditRecord } from '../../ledger/audit.ts';
import { parseStreamSubject, type Subject } from '../../jobs/targets.ts';
import { configFor } from '../context.ts';
import { UsageError } from '../errors.ts';
import { withRuntime } from '../session.ts';

/** One line per record: when, what, of which batch, by whom, why, and the API's RequestId. */
export function formatRecord(record: AuditRecord): string {
  const what = record.kind === 'outcome'
    ? `${record.operation} ${record.outcome}${record.code ? ` (${record.code})` : ''}${record.attempts !== undefined ? ` after ${record.attempts} attempt${record.attempts === 1 ? '' : 's'}` : ''}${record.act === 'undo' ? ' [undo]' : ''}`
    : `${record.act}${record.operation ? ` ${record.operation}` : ''}${record.counts ? ` ${Object.entries(record.counts).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`;
  const parts = [
    record.at,
    what,
    record.stream ?? record.monitorId,
    record.batch && `batch ${record.batch}`,
    record.actor && `by ${record.actor}`,
    record.reason && `reason "${record.reason}"`,
    record.ticket && `ticket ${record.ticket}`,
    record.requestId && `RequestId ${record.requestId}`,
  ];
  return parts.filter(Boolean).join('  ');
}

/** A time for --since and --until: ISO 8601, or an age such as 24h, 30m, 7d. */
export function parseTime(flag: string, value: string, now = Date.now()): number {
  const age = /^(\d+)(s|m|h|d)$/.exec(value);
  if (age) return now - Number(age[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 's' | 'm' | 'h' | 'd'];
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new UsageError(`${flag} must be an ISO 8601 time (2026-12-01T10:00:00Z) or an age such as 24h, 30m, 7d (got "${value}")`);
  return at;
}

export function registerHistory(program: Command): void {
  program
    .command('history')
    .description('Everything that happened to a stream or a monitor, oldest first: bans, lifts, dead letters, with the batch, who and why, and the API\'s RequestId.')
    .argument('[stream]', 'DOMAIN/APP/STREAM')
    .option('--monitor <id>', 'a monitoring session (MonitorId) instead of a stream')
    .option('--json', 'print one JSON array')
    .addHelpText('after', '\nExamples:\n  $ livequeue history demo.aliyundoc.com/liveApp/stream-7\n  $ livequeue history --monitor 445409ec-7eaa-461d-8f29-4bec2eb9a1b2 --json')
    .action(async (stream: string | undefined, opts: { monitor?: string; json?: boolean }, command: Command) => {
      if ((stream === undefined) === (opts.monitor === undefined)) throw new UsageError('name a stream (DOMAIN/APP/STREAM) or --monitor ID, one of the two');
      let subject: Subject;
      if (stream === undefined) subject = { monitorId: opts.monitor!.toLowerCase() };
      else {
        const parsed = parseStreamSubject(stream);
        if (typeof parsed === 'string') throw new UsageError(parsed);
        subject = parsed;
      }
      const records = await withRuntime(configFor(command), (runtime) => runtime.audit.history(subject));
      if (opts.json) process.stdout.write(`${JSON.stringify(records)}\n`);
      else process.stdout.write(records.length === 0 ? 'nothing recorded (within AUDIT_RETENTION_DAYS)\n' : `${records.map(formatRecord).join('\n')}\n`);
    });

  const audit = program.command('audit').description('The audit trail: every act (who, what, why, when) and every final outcome.');
  audit
    .command('export')
    .description('Write the audit trail as JSON Lines, oldest first, for an archive.')
    .requiredOption('--since <time>', 'from this time: ISO 8601, or an age such as 24h, 7d')
    .option('--until <time>', 'up to this time (default: now)')
    .addHelpText('after', '\nExample:\n  $ livequeue audit export --since 2026-12-01T00:00:00Z --until 2026-12-02T00:00:00Z > audit-2026-12-01.jsonl')
    .action(async (opts: { since: string; until?: string }, command: Command) => {
      const since = parseTime('--since', opts.since);
      const until = opts.until === undefined ? undefined : parseTime('--until', opts.until);
      if (until !== undefined && until < since) throw new UsageError('--until must not be before --since');
      await withRuntime(configFor(command), async (runtime) => {
        // Page by page: memory stays flat however long the trail is.
        for (let after = `${Math.max(0, since - 1)}-${Number.MAX_SAFE_INTEGER}`; ;) {
          const page = await runtime.audit.page(after, until, 1000);
          if (page.length === 0) break;
          if (!process.stdout.write(`${page.map((r) => JSON.stringify(r)).join('\n')}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve));
          after = page.at(-1)!.id;
        }
      });
    });
}
