/**
 * `npm run bench [-- --quick] [-- --only pacing-1,overhead]`: every scenario
 * runs the stock BullMQ baseline and livequeue in the same run, against the
 * built-in simulator and real Redis, and prints one markdown table. Results
 * go to bench/results.json and the table, with the machine, to bench/RESULTS.md.
 */
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Command } from 'commander';
import { ratio, round, type Provenance, type ResultRow } from './lib/result.ts';
import { bulkEnqueueScenario } from './scenarios/bulk-enqueue.ts';
import { incidentScenario } from './scenarios/incident.ts';
import { accountsScenario } from './scenarios/accounts.ts';
import { batchUndoScenario } from './scenarios/batch-undo.ts';
import { clusterScenario } from './scenarios/cluster.ts';
import { statusCostScenario } from './scenarios/status-cost.ts';
import { startupScenario } from './scenarios/startup.ts';
import { memoryScenario } from './scenarios/memory.ts';
import { outageScenario } from './scenarios/outage.ts';
import { overheadScenario } from './scenarios/overhead.ts';
import { auditScenario } from './scenarios/audit.ts';
import { webhooksScenario } from './scenarios/webhooks.ts';
import { pacingScenario } from './scenarios/pacing.ts';
import { sharedQuotaScenario } from './scenarios/shared-quota.ts';
import { urgentScenario } from './scenarios/urgent.ts';

interface Sizes {
  pacingJobs: number;
  sharedJobs: number;
  outageJobs: number;
  outageMs: number;
  cancelJobs: number;
  undoJobs: number;
  incidentJobs: number;
  incidentMs: number;
  accountJobs: number;
  deadLetterEntries: number;
  overheadJobs: number;
  enqueueLines: number;
  urgentBacklog: number;
  urgentJobs: number;
  memoryJobs: number;
  auditRecords: number;
  webhookOutcomes: number;
}

const SIZES: Record<'quick' | 'full', Sizes> = {
  quick: { pacingJobs: 200, sharedJobs: 300, outageJobs: 300, outageMs: 5_000, incidentJobs: 300, incidentMs: 10_000, accountJobs: 200, cancelJobs: 10_000, undoJobs: 300, deadLetterEntries: 10_000, overheadJobs: 3_000, enqueueLines: 20_000, urgentBacklog: 2_000, urgentJobs: 20, memoryJobs: 20_000, auditRecords: 100_000, webhookOutcomes: 1_000 },
  full: { pacingJobs: 1000, sharedJobs: 600, outageJobs: 2000, outageMs: 30_000, incidentJobs: 1200, incidentMs: 60_000, accountJobs: 1000, cancelJobs: 10_000, undoJobs: 1_500, deadLetterEntries: 100_000, overheadJobs: 20_000, enqueueLines: 100_000, urgentBacklog: 10_000, urgentJobs: 50, memoryJobs: 100_000, auditRecords: 1_000_000, webhookOutcomes: 10_000 },
};

const SCENARIOS: Record<string, (s: Sizes) => Promise<ResultRow[]>> = {
  'pacing-1': (s) => pacingScenario({ name: 'pacing, 1 worker process', jobs: s.pacingJobs, processes: 1, operations: ['ForbidLiveStream'] }, true),
  'pacing-4': (s) => pacingScenario({ name: 'pacing, 4 worker processes', jobs: s.pacingJobs, processes: 4, operations: ['ForbidLiveStream'] }),
  // One throttle in 500 calls at random, whatever the quota: jitter the client cannot see. A lone throttle should cost a slot, not seconds of a lower rate.
  'lone-throttles': (s) => pacingScenario({ name: 'pacing, 1 worker process, a lone Throttling answer in every 500 calls at random', jobs: s.pacingJobs * 2, processes: 1, operations: ['ForbidLiveStream'], faults: { throttleRate: 0.002 } }),
  'pacing-both': (s) => pacingScenario({ name: 'pacing, both operations', jobs: s.pacingJobs, processes: 1, operations: ['ForbidLiveStream', 'StopLiveStreamMonitor'] }),
  'shared-quota': (s) => sharedQuotaScenario(s.sharedJobs),
  outage: (s) => outageScenario(s.outageJobs, s.outageMs),
  incident: (s) => incidentScenario(s.incidentJobs, s.incidentMs),
  accounts: (s) => accountsScenario(s.accountJobs),
  'batch-undo': (s) => batchUndoScenario(s.cancelJobs, s.undoJobs),
  cluster: (s) => clusterScenario(s.pacingJobs, s.overheadJobs),
  'status-cost': (s) => statusCostScenario(s.deadLetterEntries),
  overhead: (s) => overheadScenario(s.overheadJobs),
  'bulk-enqueue': (s) => bulkEnqueueScenario(s.enqueueLines),
  urgent: (s) => urgentScenario(s.urgentBacklog, s.urgentJobs),
  memory: (s) => memoryScenario(s.memoryJobs),
  startup: () => startupScenario(),
  audit: (s) => auditScenario(s.overheadJobs, s.auditRecords),
  webhooks: (s) => webhooksScenario(s.webhookOutcomes),
};

function table(rows: readonly ResultRow[]): string {
  const fmt = (n: number | null) => (n === null ? '–' : String(round(n)));
  const lines = [
    '| scenario | measure | stock BullMQ, window | stock BullMQ, spaced | livequeue | livequeue ÷ spaced (or ÷ window) | target | met | measured on |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.measure} (${r.unit}) | ${fmt(r.baseline)} | ${r.spaced === undefined ? '' : fmt(r.spaced)} | ${fmt(r.livequeue)} | ${fmt(ratio(r.livequeue, r.spaced ?? r.baseline))} | ${r.target} | ${r.met ? 'yes' : '**no**'}${r.note ? ` (${r.note})` : ''} | ${r.measured ? `${r.measured.commit}, ${r.measured.date}` : 'an older commit (not recorded)'} |`),
  ];
  return lines.join('\n');
}

const program = new Command('bench')
  .option('--quick', 'small sizes: every scenario in well under 2 minutes')
  .option('--only <names>', `comma-separated scenarios: ${Object.keys(SCENARIOS).join(', ')}`)
  .option('--render', 'run nothing: rewrite the table of RESULTS.md from results.json')
  .parse(process.argv);
const opts = program.opts<{ quick?: boolean; only?: string; render?: boolean }>();
const resultsJson = new URL('./results.json', import.meta.url);
const resultsFile = new URL('./RESULTS.md', import.meta.url);

/** The commit this work tree is at, marked when what the bench measures has uncommitted changes. */
function provenance(): Provenance {
  const git = (args: string) => execSync(`git ${args}`, { cwd: new URL('..', import.meta.url), encoding: 'utf8' }).trim();
  let commit = 'unknown';
  try {
    commit = git('rev-parse --short=12 HEAD') + (git('status --porcelain -- src workers bench/lib bench/scenarios package.json package-lock.json') === '' ? '' : '+changes');
  } catch {
    // Not a git checkout: the rows say so.
  }
  return { commit, date: new Date().toISOString().slice(0, 10) };
}

if (opts.render) {
  const { rows } = JSON.parse(readFileSync(resultsJson, 'utf8')) as { rows: ResultRow[] };
  const text = readFileSync(resultsFile, 'utf8');
  const start = text.indexOf('\n| scenario |');
  const end = text.indexOf('\n\n', start + 1);
  writeFileSync(resultsFile, `${text.slice(0, start + 1)}${table(rows)}${text.slice(end)}`);
  process.exit(0);
}
const sizes = SIZES[opts.quick ? 'quick' : 'full'];
const names = opts.only ? opts.only.split(',') : Object.keys(SCENARIOS);
// Worker processes and the command run the compiled output, as deployed: the
// package (npm run build), and the stock baselines' own scripts beside it.
execSync('npm run build', { stdio: 'ignore', cwd: new URL('..', import.meta.url) });
execSync('npx tsc -p tsconfig.json --noEmit false --outDir dist --rewriteRelativeImportExtensions --allowImportingTsExtensions false', { stdio: 'ignore', cwd: new URL('..', import.meta.url) });
const rows: ResultRow[] = [];
const started = Date.now();
const measured = provenance();
for (const name of names) {
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`unknown scenario ${name}`);
  const t0 = Date.now();
  process.stderr.write(`bench: ${name}...\n`);
  const result = await scenario(sizes);
  rows.push(...result.map((row) => ({ ...row, measured })));
  process.stderr.write(`bench: ${name} done in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
}

// With --only, the other scenarios' rows of the last run are kept (each naming its commit), so the table stays whole.
let keptFrom = '';
if (opts.only && existsSync(resultsJson)) {
  const previousRun = JSON.parse(readFileSync(resultsJson, 'utf8')) as { when: string; keptFrom?: string; rows: ResultRow[] };
  const kept = previousRun.rows.filter((old) => !rows.some((r) => r.scenario === old.scenario));
  rows.unshift(...kept);
  if (kept.length > 0) keptFrom = previousRun.keptFrom ?? previousRun.when;
}
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
const markdown = table(rows);
process.stdout.write(`${markdown}\n`);
const when = new Date().toISOString();
writeFileSync(resultsJson, `${JSON.stringify({ when, machine, mode: opts.quick ? 'quick' : 'full', only: opts.only, keptFrom: keptFrom || undefined, seconds: (Date.now() - started) / 1000, rows }, null, 2)}\n`);
// The written analysis below the table ("## Notes") is kept from run to run.
const previous = existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8') : '';
const notes = previous.includes('\n## Notes') ? previous.slice(previous.indexOf('\n## Notes')) : '';
writeFileSync(
  resultsFile,
  `# Benchmark results\n\nRun ${when} (${opts.quick ? '--quick' : 'full'} sizes, ${((Date.now() - started) / 1000).toFixed(0)} s${opts.only ? `, only ${opts.only}` : ''}) on ${machine}.${keptFrom ? ` The other rows are kept from the run of ${keptFrom}.` : ''}\nBaselines: stock BullMQ Worker with the fixed-window limiter the docs show (\`{ max: QPS, duration: 1000 }\`, "window") and with an evenly spacing one (\`{ max: 1, duration: ceil(1000 / QPS) }\`, "spaced", its best setup against a strict rolling second), concurrency 16, livequeue's retry schedule (a capped exponential backoff strategy), same client and simulator; worker processes of all three run compiled (\`npm run build\`).\n\n${markdown}\n${notes}`,
);
process.exit(0);
