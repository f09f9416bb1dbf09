import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The tests that start the `livequeue` command start what users run: the
 * compiled JavaScript in dist/ (`npm ci` builds it). Before any test runs,
 * this global setup rebuilds dist/ when a source is newer than its output,
 * so a test never runs yesterday's command against today's sources.
 *
 * Several test runs may share the work tree (and its dist/) at once: one
 * builds at a time (a lock directory), into a staging directory, and each
 * changed file replaces the old one by a rename, so a command that another
 * run starts meanwhile never reads a half-written file.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = join(ROOT, 'dist');
const LOCK = join(DIST, '.build-lock');
/** A lock older than this is left over from a run that died while building. */
const STALE_LOCK_MS = 120_000;

function* files(dir: string): Generator<string> {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile()) yield path;
  }
}

/** Files the build copies as they are (package.json "build"): the Lua scripts and the status page's files. */
function copiedAsIs(source: string): boolean {
  return source.endsWith('.lua') || relative(ROOT, source).startsWith(join('src', 'http', 'status-page'));
}

/** Each source of the build (what tsconfig.build.json includes, and the files copied beside it) and its output. */
function sourcesAndOutputs(): { source: string; output: string }[] {
  const pairs: { source: string; output: string }[] = [];
  for (const top of ['src', 'workers']) {
    for (const source of files(join(ROOT, top))) {
      const rel = relative(ROOT, source);
      if (source.endsWith('.ts') && !source.endsWith('.d.ts')) pairs.push({ source, output: join(DIST, rel.replace(/\.ts$/, '.js')) });
      else if (copiedAsIs(source)) pairs.push({ source, output: join(DIST, rel) });
    }
  }
  return pairs;
}

/** Sources whose output is missing or older than they are. */
export function staleSources(): string[] {
  return sourcesAndOutputs()
    .filter(({ source, output }) => !existsSync(output) || statSync(output).mtimeMs < statSync(source).mtimeMs)
    .map(({ source }) => relative(ROOT, source));
}

async function withLock<T>(work: () => T): Promise<T> {
  mkdirSync(DIST, { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // Released meanwhile: try again.
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    return work();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Compiles into a staging directory, then moves what changed into dist/ file by file (and touches what did not). */
function build(): void {
  const staging = join(DIST, `.staging-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  // Outputs are dated from before the compiler read the sources: a source saved during the build stays newer than its output.
  const started = new Date();
  try {
    // Type errors are `npm run typecheck`'s to report; the tests need the code.
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', staging, '--noCheck'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (tsc.status !== 0) throw new Error(`building dist/ for the tests failed (npm run build):\n${tsc.stdout}${tsc.stderr}`);
    for (const source of files(join(ROOT, 'src'))) {
      if (!copiedAsIs(source)) continue;
      mkdirSync(dirname(join(staging, relative(ROOT, source))), { recursive: true });
      copyFileSync(source, join(staging, relative(ROOT, source)));
    }
    for (const fresh of files(staging)) {
      const target = join(DIST, relative(staging, fresh));
      const content = readFileSync(fresh);
      if (!existsSync(target) || !readFileSync(target).equals(content)) {
        mkdirSync(dirname(target), { recursive: true });
        const temporary = `${target}.${process.pid}.tmp`;
        writeFileSync(temporary, content);
        renameSync(temporary, target);
      }
      utimesSync(target, started, started);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

export default async function ensureCompiledCli(): Promise<void> {
  if (staleSources().length === 0) return;
  await withLock(() => {
    // Another run may have built it while this one waited.
    const stale = staleSources();
    if (stale.length === 0) return;
    const started = performance.now();
    build();
    process.stderr.write(`tests: rebuilt dist/ (${stale.length} source${stale.length === 1 ? '' : 's'} newer than their output, e.g. ${stale[0]}) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  });
}
