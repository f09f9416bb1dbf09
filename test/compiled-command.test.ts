import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BlacklistReadError } from '../src/blacklist/headroom.ts';
import { UnknownAccountError } from '../src/app/runtime.ts';
import { TOLD_ERRORS, toldExitCode, UsageError } from '../src/cli/errors.ts';
import { ConfigError, type Config } from '../src/config.ts';
import { InputFileError } from '../src/intake/input.ts';
import { CredentialsUnavailableError } from '../src/live/client.ts';
import { BatchNotUndoableError, BatchOperationMismatchError, CancelAllNotConfirmedError, UnknownBatchError } from '../src/batches/batches.ts';
import { RedisUnavailableError } from '../src/redis.ts';
import { MissingScopeError } from '../src/http/scopes.ts';
import { PurgeAllNotConfirmedError } from '../src/http/routes/dlq.ts';
import { CLI, runCli } from './helpers/processes.ts';
import { deleteKeys, newRedis, REDIS_URL, uniquePrefix } from './helpers/redis.ts';

/**
 * The `livequeue` command users run is the compiled JavaScript in dist/
 * (`npm ci` builds it; the tests' global setup rebuilds it when a source is
 * newer). It starts without dev dependencies and, before it has parsed its
 * arguments, loads next to nothing: every command loads what it needs when it
 * runs.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  bin: Record<string, string>;
  exports: Record<string, { types: string; default: string }>;
  types: string;
  files: string[];
  dependencies: Record<string, string>;
};

/** The modules a compiled file imports statically (`import … from`, `export … from`): what loads before any of its code runs. */
function staticImports(file: string): string[] {
  const specifiers: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^(?:import|export)\b.*\bfrom '([^']+)';$/.exec(line) ?? /^import '([^']+)';$/.exec(line);
    if (match) specifiers.push(match[1]!);
  }
  return specifiers;
}

/** Packages reached through static imports from `entry`, each with the chain of files that leads to it. */
function packagesLoadedBy(entry: string): Map<string, string[]> {
  const packages = new Map<string, string[]>();
  const seen = new Set<string>();
  const visit = (file: string, chain: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const specifier of staticImports(file)) {
      if (specifier.startsWith('node:')) continue;
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier), [...chain, file]);
      else {
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
        if (!packages.has(name)) packages.set(name, [...chain, file].map((f) => f.slice(ROOT.length)));
      }
    }
  };
  visit(entry, []);
  return packages;
}

describe('the compiled command', () => {
  it('is what the package runs: bin, exports and types point at dist/', () => {
    expect(pkg.bin.livequeue).toBe('./bin/livequeue.js');
    expect(resolve(ROOT, pkg.bin.livequeue!)).toBe(CLI);
    expect(readFileSync(CLI, 'utf8')).toContain("'../dist/src/cli/main.js'");
    expect(pkg.exports['.']).toEqual({ types: './dist/src/index.d.ts', default: './dist/src/index.js' });
    expect(pkg.types).toBe('./dist/src/index.d.ts');
    for (const file of ['dist/src/cli/main.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/ratelimit/bucket.lua']) expect(existsSync(join(ROOT, file)), file).toBe(true);
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} livequeue authors\n/);
    // What a published package ships: the command and the compiled code (package.json, README and LICENSE always go).
    expect(pkg.files).toEqual(['bin/', 'dist/src/', 'dist/workers/']);
  });

  it('prints its version from package.json', async () => {
    for (const flag of ['--version', '-V']) {
      const run = await runCli([flag], {});
      expect(run.code, run.output).toBe(0);
      expect(run.stdout).toBe(`${pkg.version}\n`);
    }
  });

  it('loads no package but commander before it has parsed its arguments', () => {
    const allowed = new Set(['commander']);
    const loaded = packagesLoadedBy(join(ROOT, 'dist/src/cli/main.js'));
    const others = [...loaded].filter(([name]) => !allowed.has(name)).map(([name, chain]) => `${name} (through ${chain.join(' -> ')})`);
    // A command module that needs another package (BullMQ, fastify, prom-client, the API client, zod, pino, ...)
    // imports it in its action, with `await import()`.
    expect(others, 'packages that `livequeue --help` would load').toEqual([]);
    expect(loaded.has('commander')).toBe(true);
  });

  it('reports every error that says all a user needs as one line, matched by its name', () => {
    const config = { accounts: [{ name: 'default' }] } as unknown as Config;
    const told = [
      new ConfigError('x'), new UsageError('x'), new RedisUnavailableError('redis://127.0.0.1:1', new Error('ECONNREFUSED')),
      new CredentialsUnavailableError(new Error('x')), new UnknownAccountError('other', config), new UnknownBatchError('b'),
      new BatchOperationMismatchError('b', 'ForbidLiveStream', 'StopLiveStreamMonitor'), new BatchNotUndoableError('b', 'StopLiveStreamMonitor'),
      new CancelAllNotConfirmedError(2, undefined), new BlacklistReadError('d', 'c', 'm'), new InputFileError('x'),
      new MissingScopeError('reader', 'enqueue'), new PurgeAllNotConfirmedError(3, undefined),
    ];
    expect(told.map((e) => e.name).sort()).toEqual(Object.keys(TOLD_ERRORS).sort());
    for (const error of told) expect(toldExitCode(error), error.name).toBe(error instanceof RedisUnavailableError ? 3 : 2);
    expect(toldExitCode(new Error('a bug'))).toBeUndefined();
    expect(toldExitCode(Object.assign(new TypeError('x'), { name: 'TypeError' }))).toBeUndefined();
  });

  it('runs from package.json, the lockfile and dist/ alone after `npm ci --omit=dev`', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lq-omit-dev-'));
    const prefix = uniquePrefix('omitdev');
    const redis = newRedis();
    try {
      for (const entry of ['package.json', 'package-lock.json', 'bin', 'dist/src', 'dist/workers']) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
      // No sources to build, no dev tools: scripts (prepare, the dependencies' own) are not needed.
      const install = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, encoding: 'utf8', timeout: 45_000 });
      expect(install.status, install.stdout + install.stderr).toBe(0);
      for (const tool of ['tsx', 'vitest', 'fast-check', 'playwright-core', '@types/cli-progress']) expect(existsSync(join(dir, 'node_modules', tool)), tool).toBe(false);

      const bin = join(dir, pkg.bin.livequeue!);
      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true', REDIS_URL, QUEUE_PREFIX: prefix };
      const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 20_000 });
      const version = run('--version');
      expect(version.status, version.stderr).toBe(0);
      expect(version.stdout).toBe(`${pkg.version}\n`);
      const help = run('--help');
      expect(help.status, help.stderr).toBe(0);
      expect(help.stdout).toContain('Usage: livequeue');
      // A command that loads BullMQ and ioredis and reads a live Redis: the runtime dependencies are all there.
      const status = run('status', '--json');
      expect(status.status, status.stderr).toBe(0);
      expect((JSON.parse(status.stdout) as { operation: string }[]).map((r) => r.operation)).toContain('ForbidLiveStream');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await deleteKeys(redis, prefix);
      redis.disconnect();
    }
  }, 60_000);
});
