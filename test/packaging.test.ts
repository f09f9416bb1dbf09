import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET } from './helpers/harness.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { freePort } from './helpers/http.ts';
import { uniquePrefix } from './helpers/redis.ts';
import { SCRIPTS } from '../src/redis-scripts.ts';
import { startNode } from './helpers/redis-servers.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The container image and the compose files, checked without a Docker daemon
 * (this machine has none): what the Dockerfile copies exists in the build
 * context after .dockerignore, that set builds on its own, the production
 * stage carries no dev tools and runs as a numeric user with a healthcheck
 * that follows the role it runs, and compose keeps secrets required (Redis's
 * password too), images pinned, Redis off the host and on noeviction, and
 * the README's way to a local Redis working as written.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The .lua files under `dir`, relative to it. */
const luaFiles = (dir: string): string[] => (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.lua'));
const read = (name: string) => readFileSync(join(ROOT, name), 'utf8');
const dockerfile = read('Dockerfile');
const compose = read('docker-compose.yml');
const redisPortOverride = read('docker-compose.redis-port.yml');
const envExample = read('.env.example');
const readme = read('README.md');
const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
const pkg = JSON.parse(read('package.json')) as { version: string; license?: string; engines: { node: string }; dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** The newest patches these files were checked against; a pin may move up, never down. */
const NODE_AT_LEAST = [22, 23, 3] as const;
const REDIS_AT_LEAST = [7, 4, 11] as const;

/** What a `COPY` source names in the build context: itself, or for a `*` in a top-level name, every match (Docker needs one). */
function expand(source: string): string[] {
  if (!source.includes('*')) return [source];
  const pattern = new RegExp(`^${source.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  const found = readdirSync(ROOT).filter((name) => pattern.test(name));
  return found.length > 0 ? found : [source];
}

/** Sources of `COPY` lines that copy from the build context (not from another stage), globs expanded. */
function contextCopies(stage?: string): string[] {
  const text = stage ? dockerfile.slice(dockerfile.indexOf(`AS ${stage}`), dockerfile.indexOf('FROM', dockerfile.indexOf(`AS ${stage}`) + 1)) : dockerfile;
  return text
    .split('\n')
    .filter((l) => /^COPY\s/.test(l) && !l.includes('--from='))
    .flatMap((l) => l.replace(/^COPY\s+/, '').split(/\s+/).slice(0, -1))
    .flatMap(expand);
}

/** .dockerignore as Docker reads these simple patterns: a name, a directory, or a *.ext glob. */
function excluded(path: string): boolean {
  return ignored.some((pattern) => (pattern.startsWith('*.') ? path.endsWith(pattern.slice(1)) : path === pattern || path.startsWith(`${pattern}/`)));
}

/** a >= b, for [major, minor, patch]. */
function atLeast(version: readonly number[], floor: readonly number[]): boolean {
  for (let i = 0; i < floor.length; i++) if (version[i] !== floor[i]) return version[i]! > floor[i]!;
  return true;
}

/** The final stage of the Dockerfile. */
const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  healthcheck?: { test: string[] };
  profiles?: string[];
}
const services = (text: string) => (parseYaml(text, { merge: true }) as { services: Record<string, ComposeService> }).services;

/**
 * Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`,
 * `${VAR?message}`, and `$$` for a literal `$`. Throws where compose refuses to start.
 */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (whole, name: string | undefined, op: string | undefined, arg: string) => {
    if (whole === '$$') return '$';
    const set = env[name!];
    const usable = op?.startsWith(':') ? set !== undefined && set !== '' : set !== undefined;
    if (usable) return set!;
    if (op?.endsWith('?')) throw new Error(`compose would refuse to start: ${arg}`);
    return op?.endsWith('-') ? arg : '';
  });
}

/** Every variable a compose file reads (`$$` is an escaped `$`, not a variable). */
const composeVariables = (text: string) => [...text.replaceAll('$$', '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);

/** `KEY=value` lines of an env file. */
function parseEnvFile(text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n').flatMap((l) => (/^[A-Za-z_][A-Za-z0-9_]*=/.test(l) ? [[l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]] : [])));
}

/** The image's healthcheck script, run here from its source, against whatever listens on these ports. */
function imageHealthcheck(env: Record<string, string>): { status: number | null; output: string } {
  const check = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'workers/healthcheck.ts')], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });
  return { status: check.status, output: check.stdout + check.stderr };
}

async function kill(p: RunningProcess): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exited;
}

describe('the container image', () => {
  it('copies only what exists in the build context after .dockerignore', () => {
    const sources = contextCopies();
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
      expect(excluded(source), `${source} is not excluded by .dockerignore`).toBe(false);
    }
  });

  it("builds from exactly the build stage's files", () => {
    const dir = mkdtempSync(join(tmpdir(), 'lq-image-'));
    try {
      for (const source of contextCopies('build')) cpSync(join(ROOT, source), join(dir, source), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      const build = spawnSync('npm', ['run', 'build'], { cwd: dir, encoding: 'utf8' });
      expect(build.status, build.stdout + build.stderr).toBe(0);
      // What the final stage copies and runs.
      const statusPage = readdirSync(join(ROOT, 'src/http/status-page')).map((name) => `dist/src/http/status-page/${name}`);
      expect(statusPage.length, 'the status page\'s html, script and style sheet').toBeGreaterThanOrEqual(3);
      for (const file of ['dist/src/cli/main.js', 'dist/workers/worker.js', 'dist/workers/simulator.js', 'dist/workers/healthcheck.js', ...Object.values(SCRIPTS).map((s) => `dist/src/${s.file}`), ...statusPage]) {
        expect(existsSync(join(dir, file)), file).toBe(true);
      }
      // The build copies every Lua file under src/: each is a command of the one list the loader defines, and nothing else is copied.
      const listed = Object.values(SCRIPTS).map((s) => s.file).sort();
      expect(luaFiles(join(ROOT, 'src')).sort()).toEqual(listed);
      expect(luaFiles(join(dir, 'dist/src')).sort()).toEqual(listed);
      expect(dockerfile).toContain('ENTRYPOINT ["node", "dist/src/cli/main.js"]');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('runs on a pinned Node 22 LTS patch, as a numeric non-root user, without dev tools', () => {
    const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
    expect(bases.length).toBe(3);
    expect(new Set(bases).size, 'one Node for every stage').toBe(1);
    const version = /^node:(\d+)\.(\d+)\.(\d+)-bookworm-slim$/.exec(bases[0]!);
    expect(version, bases[0]).not.toBeNull();
    const [major, minor, patch] = version!.slice(1).map(Number);
    expect(major).toBe(22);
    expect(atLeast([major!, minor!, patch!], NODE_AT_LEAST), `${bases[0]} is not older than node ${NODE_AT_LEAST.join('.')}`).toBe(true);
    expect(pkg.engines.node).toBe('>=22');
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    // Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd; the node image's uid 1000.
    expect([...dockerfile.matchAll(/^USER (.*)$/gm)].map((m) => m[1])).toEqual(['1000:1000']);
    expect(finalStage).toMatch(/^USER 1000:1000$/m);
    // The production stage installs dependencies only: none of these may be one.
    for (const tool of ['tsx', 'typescript', 'vitest', 'fast-check', 'playwright-core', 'yaml']) expect(pkg.dependencies[tool], tool).toBeUndefined();
  });

  it('has a healthcheck for either role and OCI labels, its version the package\'s', () => {
    expect(finalStage).toMatch(/^HEALTHCHECK (--\S+ )*CMD \["node", "dist\/workers\/healthcheck\.js"\]$/m);
    for (const label of ['title', 'description', 'source', 'licenses', 'version']) {
      expect(finalStage, label).toMatch(new RegExp(`org\\.opencontainers\\.image\\.${label}="[^"\\n]*"`));
    }
    expect(finalStage).toMatch(/org\.opencontainers\.image\.version="\$\{VERSION\}"/);
    // The package's license, when it names one.
    const licenses = /org\.opencontainers\.image\.licenses="([^"]+)"/.exec(finalStage)![1];
    if (pkg.license) expect(licenses).toBe(pkg.license);
    expect(finalStage).toContain(`ARG VERSION=${pkg.version}`);
    expect(Object.values(services(compose)).filter((s) => s.image?.startsWith('livequeue:')).map((s) => s.image)).toEqual(expect.arrayContaining([`livequeue:${pkg.version}`]));
  });

  it("the image's healthcheck follows whichever role runs: a worker's livequeue_redis_up, the server's /healthz", async () => {
    const [metricsPort, httpPort] = [await freePort(), await freePort()];
    const ports = { METRICS_PORT: String(metricsPort), HTTP_PORT: String(httpPort) };
    const base = { QUEUE_PREFIX: uniquePrefix('health'), LIVE_ENDPOINT: 'http://127.0.0.1:9', ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'info', ...ports };
    expect(imageHealthcheck(ports), 'nothing runs').toMatchObject({ status: 1 });

    // A worker: healthy while it reaches Redis, unhealthy once Redis is gone (its /metrics still answers).
    // The server then, against a Redis of its own. Each Redis is private and goes with its keys.
    const redises = await Promise.all([startNode(), startNode()]);
    const [forWorker, forServer] = redises.map((node) => ({ url: `redis://127.0.0.1:${node.port}`, stop: node.stop }));
    let worker: RunningProcess | undefined;
    let server: RunningProcess | undefined;
    try {
      // The worker's environment as the container has it: HTTP_PORT is the server's and nothing listens there.
      worker = startCli(['worker'], { ...base, REDIS_URL: forWorker!.url });
      await waitForOutput(worker, (o) => o.includes('workers started'));
      expect(imageHealthcheck(ports)).toMatchObject({ status: 0, output: expect.stringContaining('worker') });
      await forWorker!.stop();
      await waitFor(() => imageHealthcheck(ports).status === 1, 10_000, 'worker unhealthy without Redis');
      expect(imageHealthcheck(ports).output).toContain('does not reach Redis');
      await kill(worker);
      worker = undefined;

      // The server: healthy while /healthz answers 200, unhealthy on its 503.
      server = startCli(['serve'], { ...base, REDIS_URL: forServer!.url });
      await waitForOutput(server, (o) => o.includes('HTTP API listening'));
      expect(imageHealthcheck(ports)).toMatchObject({ status: 0, output: expect.stringContaining('/healthz answered 200') });
      await forServer!.stop();
      await waitFor(() => imageHealthcheck(ports).status === 1, 10_000, 'server unhealthy without Redis');
      expect(imageHealthcheck(ports).output).toContain('/healthz answered 503');
    } finally {
      for (const p of [worker, server]) if (p) await kill(p);
      await Promise.all(redises.map((node) => node.stop()));
    }
  });

  it('leaves .env out of the build context and out of git, .env.example in git', () => {
    expect(excluded('.env'), '.dockerignore').toBe(true);
    expect(ignored).toContain('.env.*');
    const checkIgnore = (path: string) => spawnSync('git', ['check-ignore', '-q', path], { cwd: ROOT }).status;
    expect(checkIgnore('.env'), '.gitignore ignores .env').toBe(0);
    expect(checkIgnore('.env.production'), '.gitignore ignores .env.production').toBe(0);
    expect(checkIgnore('.env.example'), '.env.example stays in git').toBe(1);
  });
});

describe('docker-compose.yml', () => {
  it('requires every secret instead of defaulting it, Redis\'s password included, and hands it to every app service', () => {
    for (const secret of ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'LIVEQUEUE_API_TOKEN', 'REDIS_PASSWORD']) {
      const uses = [...compose.matchAll(new RegExp(`\\$\\{${secret}([^}]*)\\}`, 'g'))].map((m) => m[1]!);
      expect(uses.length, secret).toBeGreaterThan(0);
      for (const use of uses) expect(use, secret).toMatch(/^:\?/);
    }
    expect(compose).not.toMatch(/sim-access-key-secret|change-me/);
    const { redis, worker, server } = services(compose);
    expect(redis!.environment!.REDIS_PASSWORD).toMatch(/^\$\{REDIS_PASSWORD:\?/);
    for (const [name, service] of Object.entries({ worker, server })) {
      expect(service!.environment!.REDIS_PASSWORD, name).toMatch(/^\$\{REDIS_PASSWORD:\?/);
      expect(service!.environment!.REDIS_URL, name).toBe('redis://redis:6379');
    }
  });

  it('pins image tags; Redis is the chosen patch of a maintained line or newer', () => {
    const images = [...(compose + redisPortOverride).matchAll(/^\s+image:\s*(\S+)/gm)].map((m) => m[1]!);
    for (const image of images) expect(image, image).toMatch(/:\d+\.\d+\.\d+(-[a-z0-9.]+)?$/);
    const redisImage = services(compose).redis!.image!;
    const version = /^redis:(\d+)\.(\d+)\.(\d+)-alpine$/.exec(redisImage);
    expect(version, redisImage).not.toBeNull();
    expect(atLeast(version!.slice(1).map(Number), REDIS_AT_LEAST), `${redisImage} is not older than redis ${REDIS_AT_LEAST.join('.')}`).toBe(true);
  });

  it('gives Redis no host port unless the redis-port file asks, and then on 127.0.0.1 only', () => {
    const base = services(compose);
    expect(base.redis!.ports, 'no host port by default').toBeUndefined();
    expect(compose).not.toMatch(/["\s]6379:6379/);
    // Whatever is published, by either file, is on loopback only.
    for (const [name, service] of [...Object.entries(base), ...Object.entries(services(redisPortOverride))]) {
      for (const port of service.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:/);
    }
    expect(services(redisPortOverride).redis!.ports).toEqual(['127.0.0.1:${REDIS_HOST_PORT:-6379}:6379']);
    expect(Object.keys(services(redisPortOverride))).toEqual(['redis']);
  });

  it('runs Redis with maxmemory-policy noeviction, a password and a healthcheck that uses it', () => {
    const { redis } = services(compose);
    const command = redis!.command!.join(' ');
    expect(command).toMatch(/--maxmemory-policy noeviction\b/);
    expect(command).toContain('requirepass "$$REDIS_PASSWORD"');
    expect(command, 'the password is not on the command line').not.toMatch(/--requirepass/);
    expect(redis!.healthcheck!.test.join(' ')).toContain('REDISCLI_AUTH="$$REDIS_PASSWORD"');
  });

  it('uses the image healthcheck for the worker and the server', () => {
    const { worker, server, sim } = services(compose);
    for (const service of [worker, server]) expect(service!.healthcheck).toBeUndefined();
    expect(sim!.healthcheck, 'the simulator has its own').toBeDefined();
  });

  it('.env.example names every variable the compose files read, each with a comment, no secret filled in', () => {
    const used = new Set([...composeVariables(compose), ...composeVariables(redisPortOverride)]);
    expect(used.size).toBeGreaterThan(10);
    const lines = envExample.split('\n');
    for (const variable of used) {
      const at = lines.findIndex((l) => new RegExp(`^(# )?${variable}=`).test(l));
      expect(at, `${variable} in .env.example`).toBeGreaterThan(0);
      // Its comment: the nearest line above that is not another variable's line.
      const above = lines.slice(0, at).reverse().find((l) => !/^(# )?[A-Z_]+=/.test(l));
      expect(above, `${variable}'s comment`).toMatch(/^# \S/);
    }
    // The secrets are there, empty: compose refuses an empty one, so a forgotten value never starts with a known one.
    expect(parseEnvFile(envExample)).toEqual({ REDIS_PASSWORD: '', ALIBABA_CLOUD_ACCESS_KEY_ID: '', ALIBABA_CLOUD_ACCESS_KEY_SECRET: '', LIVEQUEUE_API_TOKEN: '' });
  });

  it("the README's way to a local Redis works as written: .env, the compose Redis on 127.0.0.1, REDIS_URL for the CLI and the tests", async () => {
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## What it promises'));
    const block = /```sh\n(?:#[^\n]*\n)?(\[ -e \.env \][^\n]*)\n(docker compose [^\n]*)\n(export REDIS_URL=[^\n]*)\n```/.exec(quickStart);
    expect(block, 'the Quick start block').not.toBeNull();
    const [, makeEnv, up, exportUrl] = block!;
    expect(up).toBe('docker compose -f docker-compose.yml -f docker-compose.redis-port.yml up -d redis');

    const dir = mkdtempSync(join(tmpdir(), 'lq-compose-'));
    let server: ReturnType<typeof spawn> | undefined;
    try {
      copyFileSync(join(ROOT, '.env.example'), join(dir, '.env.example'));
      const made = spawnSync('sh', ['-c', makeEnv!], { cwd: dir, encoding: 'utf8' });
      expect(made.status, made.stderr).toBe(0);
      const env = parseEnvFile(readFileSync(join(dir, '.env'), 'utf8'));
      for (const secret of ['REDIS_PASSWORD', 'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'LIVEQUEUE_API_TOKEN']) expect(env[secret], secret).toMatch(/^[0-9a-f]{48}$/);
      expect(new Set([env.REDIS_PASSWORD, env.LIVEQUEUE_API_TOKEN]).size, 'each secret its own value').toBe(2);
      // Run again, it leaves an existing .env alone.
      spawnSync('sh', ['-c', makeEnv!], { cwd: dir });
      expect(parseEnvFile(readFileSync(join(dir, '.env'), 'utf8'))).toEqual(env);

      // `up -d redis` interpolates both files whole: with this .env nothing is refused.
      const resolve = (text: string) => JSON.parse(interpolate(JSON.stringify(parseYaml(text, { merge: true })), env)) as { services: Record<string, ComposeService> };
      const { redis } = resolve(compose).services;
      expect(resolve(redisPortOverride).services.redis!.ports).toEqual(['127.0.0.1:6379:6379']);

      // Compose's own Redis command and healthcheck, run with this machine's redis-server (the image's
      // entrypoint only drops to the redis user) on a free port instead of 6379.
      const port = await freePort();
      const script = redis!.command![2]!.replace('docker-entrypoint.sh ', '').replace('redis-server -', `redis-server - --port ${port} --bind 127.0.0.1 --dir ${dir}`);
      const redisEnv = { PATH: process.env.PATH ?? '', ...Object.fromEntries(Object.entries(redis!.environment!).map(([k, v]) => [k, String(v)])) };
      server = spawn(redis!.command![0]!, [redis!.command![1]!, script], { cwd: dir, env: redisEnv, stdio: 'ignore' });
      const healthcheck = redis!.healthcheck!.test[1]!.replace('redis-cli ', `redis-cli -p ${port} `);
      await waitFor(() => spawnSync('sh', ['-c', healthcheck], { env: redisEnv }).status === 0, 10_000, 'the compose healthcheck passes');
      expect(spawnSync('sh', ['-c', healthcheck], { env: { ...redisEnv, REDIS_PASSWORD: 'wrong' } }).status, 'a wrong password fails it').not.toBe(0);

      const url = spawnSync('sh', ['-c', `${exportUrl}; printf %s "$REDIS_URL"`], { cwd: dir, encoding: 'utf8' }).stdout;
      expect(url).toBe(`redis://:${env.REDIS_PASSWORD}@127.0.0.1:6379`);
      const status = await runCli(['status', '--json'], { REDIS_URL: url.replace(':6379', `:${port}`) });
      expect(status.code, status.output).toBe(0);
      expect(status.output).not.toContain(env.REDIS_PASSWORD);
      expect((JSON.parse(status.stdout) as { redisMaxmemoryPolicy: string }[])[0]!.redisMaxmemoryPolicy).toBe('noeviction');
      const noPassword = await runCli(['status', '--json'], { REDIS_URL: `redis://127.0.0.1:${port}` });
      expect(noPassword.code, 'refused without the password').not.toBe(0);
      expect(noPassword.output).toMatch(/NOAUTH|Authentication required/);
      // Append-only, as configured.
      const probe = new Redis(url.replace(':6379', `:${port}`), { maxRetriesPerRequest: 1 });
      try {
        expect(await probe.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      } finally {
        probe.disconnect();
      }
    } finally {
      if (server && server.exitCode === null) {
        const exited = new Promise((resolve) => server!.once('exit', resolve));
        server.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
