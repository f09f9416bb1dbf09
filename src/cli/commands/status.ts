import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { OPERATION_INFO } from '../../catalog/operations.ts';
import type { HoldStatus, OperationStatus } from '../../ledger/status.ts';
import { evictionWarning, REQUIRED_POLICY } from '../../eviction-warning.ts';
import { configFor } from '../context.ts';
import { withRuntimes } from '../session.ts';

const COLUMNS: readonly [string, (s: OperationStatus) => string | number][] = [
  ['account', (s) => s.account],
  ['operation', (s) => OPERATION_INFO[s.operation].slug],
  ['waiting', (s) => s.waiting],
  ['delayed', (s) => s.delayed],
  ['active', (s) => s.active],
  ['applied', (s) => s.applied],
  ['already-applied', (s) => s.alreadyApplied],
  ['dead-lettered', (s) => s.deadLettered],
  ['retried', (s) => s.retried],
  ['throttled', (s) => s.throttled],
  // With an operator's rate the second figure is it, the configured one in brackets.
  ['rate (now/configured)', (s) => (s.rateOverride ? `${s.currentRate}/${s.rateOverride.rate} (set; config ${s.configuredRate})` : `${s.currentRate}/${s.configuredRate}`)],
  ['calls last min', (s) => s.callsLastMinute],
];

function describeHold(slug: string, hold: HoldStatus): string {
  const next = hold.nextProbeAt ? `; next probe ${hold.nextProbeAt}` : hold.until ? `; bans tried again ${hold.until}` : '';
  const example = hold.target ? `, e.g. for ${hold.target}` : '';
  return `HOLD ${slug} (${hold.reason}) since ${hold.since}: ${hold.code} x${hold.calls} (${hold.message})${example}${next}; \`${hold.resume}\` lifts it`;
}

function describeRateOverride(row: OperationStatus, rows: readonly OperationStatus[]): string {
  const { rate, until, actor, reason } = row.rateOverride!;
  const slug = `${new Set(rows.map((r) => r.account)).size > 1 ? `${row.account}/` : ''}${OPERATION_INFO[row.operation].slug}`;
  return `RATE ${slug} set to ${rate} by ${actor} until ${until ?? 'reset'}${reason ? ` (${reason})` : ''}; configured ${row.configuredRate}, \`livequeue rate reset ${OPERATION_INFO[row.operation].slug}\` ends it`;
}

/** One line per webhook endpoint with deliveries that failed for good, once per account. */
function webhookLines(rows: readonly OperationStatus[]): string[] {
  const accounts = new Map(rows.filter((r) => r.webhooks).map((r) => [r.account, r.webhooks!]));
  const many = new Set(rows.map((r) => r.account)).size > 1;
  return [...accounts].flatMap(([account, hooks]) =>
    hooks.filter((w) => w.failed > 0).map((w) => `WEBHOOK ${many ? `${account}/` : ''}${w.endpoint}: ${w.failed} deliveries failed for good; livequeue ${many ? `--account ${account} ` : ''}webhooks replay ${w.endpoint}`),
  );
}

export function formatStatusTable(rows: readonly OperationStatus[]): string {
  const table = [COLUMNS.map(([h]) => h), ...rows.map((row) => COLUMNS.map(([, get]) => String(get(row))))];
  const widths = COLUMNS.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  const lines = table.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  for (const row of rows) {
    if (row.blacklist) lines.push(`BLACKLIST ${row.account}: ${row.blacklist.entries} of ${row.blacklist.cap} streams, room for ${row.blacklist.headroom}, ${row.blacklist.permanentBans} permanent (checked ${row.blacklist.checkedAt})`);
  }
  const shown = new Set<string>();
  for (const row of rows) {
    for (const p of row.heldProcesses ?? []) {
      if (shown.has(`${row.account} ${p.process}`)) continue;
      shown.add(`${row.account} ${p.process}`);
      lines.push(`PROCESS HELD ${row.account}: ${p.process} (host ${p.host}, pid ${p.pid}) since ${p.since}: ${p.code}; it takes no jobs and probes now and then, other processes go on; check that host's credentials and clock`);
    }
  }
  const policy = rows[0]?.redisMaxmemoryPolicy;
  if (policy !== undefined && policy !== REQUIRED_POLICY) lines.push(`REDIS ${evictionWarning(policy)}`);
  lines.push(...webhookLines(rows));
  for (const row of rows) if (row.rateOverride) lines.push(describeRateOverride(row, rows));
  for (const row of rows) if (row.hold) lines.push(describeHold(`${new Set(rows.map((r) => r.account)).size > 1 ? `${row.account}/` : ''}${OPERATION_INFO[row.operation].slug}`, row.hold));
  return lines.join('\n');
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('Per operation: waiting, delayed, active, applied, already-applied, dead-lettered, the bucket rate and calls in the last minute.')
    .option('--json', 'print one JSON array')
    .option('--watch', 'refresh every 2 seconds until Ctrl-C')
    .addHelpText('after', '\nExamples:\n  $ livequeue status\n  $ livequeue status --json | jq \'.[] | select(.operation=="ForbidLiveStream")\'\n  $ livequeue status --watch')
    .action(async (opts: { json?: boolean; watch?: boolean }, command: Command) => {
      const config = configFor(command);
      // Every account, each on its own rows, unless --account names one.
      await withRuntimes(config, config.accountNamed ? [config.account] : undefined, async (runtimes) => {
        for (;;) {
          const rows = (await Promise.all(runtimes.map((r) => r.status()))).flat();
          if (config.webhooks.endpoints.length > 0) {
            const { webhookStatus } = await import('../../webhooks/dead-deliveries.ts');
            const hooks = new Map(await Promise.all(runtimes.map(async (r) => [r.name, await webhookStatus(r, config.webhooks.endpoints)] as const)));
            for (const row of rows) row.webhooks = hooks.get(row.account);
          }
          const text = opts.json ? JSON.stringify(rows) : formatStatusTable(rows);
          if (opts.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
          process.stdout.write(`${text}\n`);
          if (!opts.watch) return;
          await sleep(2000);
        }
      });
    });
}
