import type { Command } from 'commander';
import type { Headroom } from '../../blacklist/headroom.ts';
import { configFor } from '../context.ts';
import { withRuntime } from '../session.ts';

function format(h: Headroom): string {
  return [
    `account ${h.account}: ${h.entries} of ${h.cap} streams on the blacklist, room for ${h.headroom} (checked ${h.checkedAt})`,
    ...h.domains.map((d) => `  ${d.domain}: ${d.entries}`),
    `  permanent bans (no ResumeTime: six months each) applied through livequeue: ${h.permanentBans}`,
  ].join('\n');
}

/** `livequeue blacklist`: how close the account's 10,000-stream blacklist is to full. */
export function registerBlacklist(program: Command): void {
  program
    .command('blacklist')
    .description('The account\'s blacklist size and headroom (cap 10,000), per domain, from DescribeLiveStreamsBlockList.')
    .option('--json', 'print one JSON object: {account, cap, entries, headroom, domains: [{domain, entries}], checkedAt, permanentBans}')
    .option('--refresh', 'read it from the API now (workers refresh it every BLACKLIST_REFRESH_MS)')
    .addHelpText('after', '\nThe domains read are those the account has banned in, and LIVE_DOMAINS (or "domains" in the accounts file).\nExamples:\n  $ livequeue blacklist\n  $ livequeue --account main blacklist --refresh --json')
    .action(async (opts: { json?: boolean; refresh?: boolean }, command: Command) => {
      const headroom = await withRuntime(configFor(command), async (runtime) => {
        const cached = opts.refresh ? undefined : await runtime.blacklist.cached();
        return cached ?? runtime.blacklist.refresh(runtime.liveClient());
      });
      process.stdout.write(`${opts.json ? JSON.stringify(headroom) : format(headroom)}\n`);
    });
}
