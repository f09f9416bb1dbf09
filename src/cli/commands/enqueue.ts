import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { Command, Option } from 'commander';
import type { InputRecord } from '../../intake/input.ts';
import { formatFromPath, INPUT_FORMATS, type InputFormat } from '../../intake/input-formats.ts';
import { OPERATION_INFO, OPERATIONS, slugList, type Operation } from '../../catalog/operations.ts';
import type { StreamSummary } from '../../intake/enqueue.ts';
import { PRIORITIES, type Priority } from '../../queue/job-options.ts';
import { configFor } from '../context.ts';
import { UsageError } from '../errors.ts';
import { actOptions, actorOf } from '../actor.ts';
import { withRuntime } from '../session.ts';
import { reportEnqueued } from '../enqueue-report.ts';

interface EnqueueFlags {
  file: string;
  batch?: string;
  format?: InputFormat;
  priority: Priority;
  json?: boolean;
  oneshot?: boolean;
  resumeTime?: string;
  region?: string;
}

function openInput(file: string): { stream: Readable; size?: number } {
  if (file === '-') return { stream: process.stdin };
  try {
    const stat = statSync(file);
    if (stat.isDirectory()) throw new UsageError(`--file: ${file} is a directory; give a file, or - for standard input`);
    return { stream: createReadStream(file), size: stat.size };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--file: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** Counts bytes as records are read, for a progress bar over the file size. */
async function* countingBytes(records: AsyncIterable<InputRecord>, stream: Readable, onBytes: (n: number) => void): AsyncGenerator<InputRecord> {
  let bytes = 0;
  stream.on('data', (chunk: Buffer | string) => {
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    onBytes(bytes);
  });
  yield* records;
}

async function progressReporter(size: number | undefined): Promise<{ update: (s: StreamSummary, bytes: number) => void; stop: () => void }> {
  if (process.stderr.isTTY && size) {
    const { default: cliProgress } = await import('cli-progress');
    const bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: 'enqueue [{bar}] {percentage}% | {read} lines | {enqueued} enqueued | {duplicates} duplicates | {invalid} invalid', hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(size, 0, { read: 0, enqueued: 0, duplicates: 0, invalid: 0 });
    return {
      update: (s, bytes) => bar.update(bytes, { read: s.read, enqueued: s.enqueued, duplicates: s.duplicates, invalid: s.invalid.length }),
      stop: () => bar.stop(),
    };
  }
  let lastPrinted = 0;
  return {
    update: (s) => {
      if (s.read - lastPrinted >= 10_000) {
        lastPrinted = s.read;
        process.stderr.write(`enqueue: ${s.read} lines read, ${s.enqueued} enqueued, ${s.duplicates} duplicates, ${s.invalid.length} invalid\n`);
      }
    },
    stop: () => {},
  };
}

async function enqueueFile(command: Command, operation: Operation, flags: EnqueueFlags, defaults: Record<string, string>): Promise<void> {
  const config = configFor(command);
  const by = actorOf(command);
  // Loaded on use: `--help` and the other commands do without the readers, the batch rules and the bulk producer.
  const [{ InputFileError, readRecords }, { BATCH_ID, BATCH_ID_RULE, newBatchId }] = await Promise.all([
    import('../../intake/input.ts'),
    import('../../jobs/batch-id.ts'),
  ]);
  const format = flags.format ?? (flags.file === '-' ? undefined : formatFromPath(flags.file)) ?? (OPERATION_INFO[operation].subject === 'monitor' ? 'text' : 'jsonl');
  if (format === 'text' && OPERATION_INFO[operation].subject !== 'monitor') throw new UsageError('--format text holds one MonitorId per line: use it with stop-monitor');
  const batch = flags.batch ?? newBatchId();
  if (!BATCH_ID.test(batch)) throw new UsageError(`--batch must be ${BATCH_ID_RULE} (got "${batch}")`);
  const summary = await withRuntime(config, async (runtime) => {
    const { stream, size } = openInput(flags.file);
    const progress = await progressReporter(size);
    let bytes = 0;
    try {
      return await runtime.intake.enqueueStream(operation, countingBytes(readRecords(stream, format, operation), stream, (n) => (bytes = n)), batch, {
        priority: flags.priority,
        by,
        defaults,
        onProgress: (s) => progress.update(s, bytes),
      });
    } finally {
      progress.stop();
    }
  });
  if (summary.read === 0) throw new InputFileError('the input holds no records (an empty file, or a CSV with only its header); nothing was enqueued');
  const { enqueued, duplicates, invalid, blacklistWarning } = summary;
  reportEnqueued({
    batch, enqueued, duplicates, ...(blacklistWarning ? { warning: blacklistWarning } : {}),
    refused: invalid.map((i) => ({ at: `line ${i.line}`, errors: i.errors })),
    jsonExtra: { invalidLines: invalid },
  }, flags.json);
}

function commonFlags(command: Command): Command {
  return actOptions(command)
    .requiredOption('--file <path>', 'input file, or - for standard input')
    .addOption(new Option('--format <format>', 'input format (default: by file extension)').choices(INPUT_FORMATS))
    .addOption(new Option('--priority <priority>', 'urgent jobs are taken before the normal backlog').choices(PRIORITIES).default('normal'))
    .option('--batch <name>', 'record the jobs under this batch id (default: a new one, printed)')
    .option('--json', 'print the summary as one JSON object');
}

/** What each operation's `enqueue <slug>` adds to the common flags: its description, own flags and examples. */
interface EnqueueCommand {
  description: string;
  flags?: (command: Command) => Command;
  /** Parameters a line does not give, from the command's own flags. */
  defaults?: (flags: EnqueueFlags) => Record<string, string>;
  examples: string;
}

/** One subcommand per operation of the catalog, named by its slug: the compiler asks for a new operation's. */
const ENQUEUE_COMMANDS: Readonly<Record<Operation, EnqueueCommand>> = {
  ForbidLiveStream: {
    description: 'Ban the streams in a file: one stream a line with DomainName, AppName, StreamName and optional LiveStreamType, Oneshot, ResumeTime, RegionId.',
    flags: (command) => command
      .option('--oneshot', 'only interrupt streams (Oneshot=yes) where a line does not say')
      .option('--resume-time <time>', 'ResumeTime (yyyy-MM-ddTHH:mm:ssZ, UTC) where a line does not say')
      .option('--region <region>', 'RegionId where a line does not say'),
    defaults: (flags) => ({
      ...(flags.oneshot ? { Oneshot: 'yes' } : {}),
      ...(flags.resumeTime ? { ResumeTime: flags.resumeTime } : {}),
      ...(flags.region ? { RegionId: flags.region } : {}),
    }),
    examples: `
  $ livequeue enqueue forbid --file bans.jsonl
      {"DomainName":"demo.aliyundoc.com","AppName":"liveApp","StreamName":"s1","ResumeTime":"2030-01-01T00:00:00Z"}
  $ livequeue enqueue forbid --file bans.csv --oneshot --priority urgent
      DomainName,AppName,StreamName
      demo.aliyundoc.com,liveApp,s1
  $ cat bans.jsonl | livequeue enqueue forbid --file - --json`,
  },
  StopLiveStreamMonitor: {
    description: 'Stop the monitoring sessions in a file: one MonitorId a line (plain text, JSONL with MonitorId, or CSV).',
    examples: `
  $ livequeue enqueue stop-monitor --file monitors.txt
      445409ec-7eaa-461d-8f29-4bec2eb9a1b2
  $ livequeue enqueue stop-monitor --file monitors.csv --priority urgent`,
  },
  ResumeLiveStream: {
    description: 'Lift the bans of the streams in a file by hand (`livequeue batch undo` lifts a whole batch): one stream a line with DomainName, AppName, StreamName and optional RegionId.',
    flags: (command) => command.option('--region <region>', 'RegionId where a line does not say'),
    defaults: (flags): Record<string, string> => (flags.region ? { RegionId: flags.region } : {}),
    examples: `
  $ livequeue enqueue resume-stream --file lifts.jsonl
      {"DomainName":"demo.aliyundoc.com","AppName":"liveApp","StreamName":"s1"}`,
  },
};

export function registerEnqueue(program: Command): void {
  const enqueue = program.command('enqueue').description(`Enqueue jobs from a file (JSON Lines, CSV, or plain text for monitor ids): ${slugList()}.`);

  for (const operation of OPERATIONS) {
    const spec = ENQUEUE_COMMANDS[operation];
    const command = commonFlags(enqueue.command(OPERATION_INFO[operation].slug)).description(spec.description);
    (spec.flags ?? ((c: Command) => c))(command)
      .addHelpText('after', `
Examples:${spec.examples}
Exit code: 0 when every line was valid, 1 when some were invalid (valid lines are enqueued all the same).`)
      .action(async (flags: EnqueueFlags, self: Command) => {
        await enqueueFile(self, operation, flags, spec.defaults?.(flags) ?? {});
      });
  }
}
