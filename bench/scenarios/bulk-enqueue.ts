import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResultRow } from '../lib/result.ts';
import { start } from '../lib/procs.ts';
import { COMPILED_CLI, newRun, type System } from '../lib/setup.ts';

interface EnqueueFigures {
  linesPerSecond: number;
  peakRssMb: number;
}

async function enqueue(system: System, path: string, lines: number): Promise<EnqueueFigures> {
  const run = await newRun(system);
  try {
    const t0 = Date.now();
    const proc = system === 'livequeue'
      ? start([COMPILED_CLI, 'enqueue', 'forbid', '--file', path, '--json'], run.workerEnv())
      : start(['dist/bench/baseline-enqueue.js'], run.workerEnv({ INPUT_FILE: path }));
    const code = await proc.exited;
    const seconds = (Date.now() - t0) / 1000;
    const summary = JSON.parse(proc.output().trim().split('\n').at(-1) ?? '{}') as { enqueued?: number };
    if (code !== 0 || summary.enqueued !== lines) throw new Error(`${system} enqueue failed (exit ${code}): ${proc.output().slice(-500)}`);
    return { linesPerSecond: lines / seconds, peakRssMb: proc.peakRssMb() };
  } finally {
    await run.close();
  }
}

/**
 * A JSONL file through `livequeue enqueue` (validation, dedup, progress), as
 * the container image runs it (compiled), vs. a bare addBulk loop; whole
 * process, start-up included. `npx livequeue` adds tsx's loader, about 50 MB.
 */
export async function bulkEnqueueScenario(lines: number): Promise<ResultRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'livequeue-bench-'));
  const path = join(dir, 'bans.jsonl');
  writeFileSync(path, Array.from({ length: lines }, (_, i) => JSON.stringify({ DomainName: 'demo.aliyundoc.com', AppName: 'bulk', StreamName: `bulk-${i}` })).join('\n'));
  try {
    const b = await enqueue('baseline', path, lines);
    const o = await enqueue('livequeue', path, lines);
    const name = `bulk enqueue, ${lines.toLocaleString('en')}-line JSONL`;
    return [
      { scenario: name, measure: 'lines/s', baseline: b.linesPerSecond, livequeue: o.linesPerSecond, unit: 'lines/s', target: '>= 10000', met: o.linesPerSecond >= 10_000 },
      { scenario: name, measure: 'peak RSS of the enqueuing process', baseline: b.peakRssMb, livequeue: o.peakRssMb, unit: 'MB', target: '<= 200', met: o.peakRssMb <= 200 },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
