import type { Command } from 'commander';
import type { Operation } from '../../catalog/operations.ts';
import type { EnqueueRecord } from '../../intake/enqueue.ts';
import type { Priority } from '../../queue/job-options.ts';
import { configFor } from '../context.ts';
import { UsageError } from '../errors.ts';
import { actOptions, actorOf } from '../actor.ts';
import { withRuntime } from '../session.ts';
import { reportEnqueued } from '../enqueue-report.ts';

interface OneLineFlags {
  for?: string;
  until?: string;
  oneshot?: boolean;
  urgent?: boolean;
  region?: string;
  batch?: string;
  json?: boolean;
}

interface Target {
  DomainName: string;
  AppName: string;
  StreamName: string;
}

const TARGET_RULE = 'DOMAIN/APP/STREAM: three non-empty parts';
const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+)([mhd])$/;
// A zone is required: a time without one would mean this machine's zone, which the API never sees.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** `demo.aliyundoc.com/liveApp/s1` as the API's three fields; the schema judges each field after. */
export function parseTarget(target: string): Target {
  const parts = target.split('/');
  if (parts.length !== 3 || parts.some((p) => p.trim() === '')) throw new UsageError(`${TARGET_RULE} (got "${target}")`);
  const [DomainName, AppName, StreamName] = parts as [string, string, string];
  return { DomainName, AppName, StreamName };
}

/** The API's ResumeTime form: yyyy-MM-ddTHH:mm:ssZ in UTC, whole seconds. */
const resumeTimeOf = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** When the ban ends, from --for or --until; undefined for a ban with no ResumeTime. */
export function resumeTimeFrom(flags: Pick<OneLineFlags, 'for' | 'until' | 'oneshot'>, now = Date.now()): string | undefined {
  if (flags.for !== undefined && flags.until !== undefined) throw new UsageError('--for and --until exclude each other: give one');
  if (flags.oneshot && (flags.for !== undefined || flags.until !== undefined)) throw new UsageError(`--oneshot only interrupts the streams and bans nothing: it takes no ${flags.for !== undefined ? '--for' : '--until'}`);
  if (flags.for !== undefined) {
    const match = DURATION.exec(flags.for);
    if (!match || Number(match[1]) === 0) throw new UsageError(`--for must be a positive whole number of m, h or d, e.g. 30m, 2h, 24h, 7d (got "${flags.for}")`);
    return resumeTimeOf(now + Number(match[1]) * UNIT_MS[match[2]!]!);
  }
  if (flags.until !== undefined) {
    const at = ISO_TIME.test(flags.until) ? Date.parse(flags.until) : Number.NaN;
    if (Number.isNaN(at)) throw new UsageError(`--until must be an ISO time with its zone, e.g. 2030-01-01T00:00:00Z (got "${flags.until}")`);
    if (at <= now) throw new UsageError(`--until must be in the future (got ${flags.until}, now is ${resumeTimeOf(now)})`);
    return resumeTimeOf(at);
  }
  return undefined;
}

/** The ban's end as the plain summary states it. */
function banNote(flags: OneLineFlags, resumeTime: string | undefined): string {
  if (flags.oneshot) return 'oneshot: the streams\' sessions are interrupted, nothing is blacklisted';
  return resumeTime ? `banned until ${resumeTime} (ResumeTime)` : 'no ResumeTime: a permanent ban, which the API keeps six months unless lifted';
}

/** `ban` and `lift`: the records of the targets, through the same intake as a file. */
async function enqueueTargets(command: Command, operation: Operation, targets: readonly string[], flags: OneLineFlags): Promise<void> {
  // Usage first, before Redis: a malformed target or time enqueues nothing.
  const parsed = targets.map(parseTarget);
  const resumeTime = operation === 'ForbidLiveStream' ? resumeTimeFrom(flags) : undefined;
  const config = configFor(command);
  const by = actorOf(command);
  const { BATCH_ID, BATCH_ID_RULE, newBatchId } = await import('../../jobs/batch-id.ts');
  const batch = flags.batch ?? newBatchId();
  if (!BATCH_ID.test(batch)) throw new UsageError(`--batch must be ${BATCH_ID_RULE} (got "${batch}")`);
  const priority: Priority = flags.urgent ? 'urgent' : 'normal';
  const records: EnqueueRecord[] = parsed.map((target) => ({
    priority,
    params: {
      ...target,
      ...(flags.oneshot ? { Oneshot: 'yes' } : {}),
      ...(resumeTime ? { ResumeTime: resumeTime } : {}),
      ...(flags.region ? { RegionId: flags.region } : {}),
    },
  }));
  const { results, blacklistWarning } = await withRuntime(config, (runtime) => runtime.intake.enqueue(operation, records, batch, by));
  const refused = results.flatMap((r, i) => (r.status === 'invalid' ? [{ at: targets[i]!, errors: r.errors }] : []));
  reportEnqueued({
    batch,
    enqueued: results.filter((r) => r.status === 'enqueued').length,
    duplicates: results.filter((r) => r.status === 'duplicate').length,
    refused,
    ...(blacklistWarning ? { warning: blacklistWarning } : {}),
    jsonExtra: { invalidTargets: refused.map((r) => ({ target: r.at, errors: r.errors })), ...(resumeTime ? { resumeTime } : {}) },
    ...(operation === 'ForbidLiveStream' ? { notes: [banNote(flags, resumeTime)] } : {}),
  }, flags.json);
}

const EXIT_HELP = 'Exit code: 0 when every target was enqueued (or already pending), 1 when some were invalid (the valid ones are enqueued all the same), 2 for a malformed target or flag (nothing enqueued), 3 when Redis is out of reach.';

/** Options both commands take: the region, the batch, --json, and who acts and why. */
function commonOptions(command: Command): Command {
  return actOptions(command)
    .argument('<targets...>', 'streams as DOMAIN/APP/STREAM, e.g. demo.aliyundoc.com/liveApp/s1')
    .option('--region <region>', 'RegionId sent with each call')
    .option('--batch <name>', 'record the jobs under this batch id (default: a new one, printed)')
    .option('--json', 'print the summary as one JSON object');
}

/** `livequeue ban` and `livequeue lift`: one act on a few streams named on the command line, without a file. */
export function registerBanCommands(program: Command): void {
  commonOptions(program.command('ban'))
    .description('Ban the streams named on the command line (ForbidLiveStream), through the queue like `enqueue forbid`.')
    .option('--for <duration>', 'ban for this long: 30m, 2h, 24h, 7d (ResumeTime = now + duration)')
    .option('--until <time>', 'ban until this ISO time, in the future, e.g. 2030-01-01T00:00:00Z')
    .option('--oneshot', 'only interrupt the streams\' sessions (Oneshot=yes), blacklist nothing')
    .option('--urgent', 'take these before the normal backlog')
    .addHelpText('after', `
Without --for or --until the ban has no ResumeTime: a permanent ban, which the API keeps six months unless lifted.
Examples:
  $ livequeue ban demo.aliyundoc.com/liveApp/s1 demo.aliyundoc.com/liveApp/s2 --for 2h --reason "spam wave" --ticket CASE-12
  $ livequeue ban demo.aliyundoc.com/liveApp/s1 --until 2030-01-01T00:00:00Z --urgent
${EXIT_HELP}`)
    .action(async (targets: string[], flags: OneLineFlags, command: Command) => {
      await enqueueTargets(command, 'ForbidLiveStream', targets, flags);
    });

  commonOptions(program.command('lift'))
    .description('Lift the bans of the streams named on the command line (ResumeLiveStream), through the queue like `enqueue resume-stream`.')
    .addHelpText('after', `
Examples:
  $ livequeue lift demo.aliyundoc.com/liveApp/s1 --reason "appeal granted" --ticket CASE-12
${EXIT_HELP}`)
    .action(async (targets: string[], flags: OneLineFlags, command: Command) => {
      await enqueueTargets(command, 'ResumeLiveStream', targets, flags);
    });
}
