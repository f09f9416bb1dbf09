import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LocalRedisServer } from '../src/local-redis.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET } from './helpers/harness.ts';
import { startCli, waitForOutput } from './helpers/processes.ts';
import { freePort } from './helpers/http.ts';
import { deleteKeys, newRedis, REDIS_URL, uniquePrefix } from './helpers/redis.ts';

/**
 * The container image and the compose file, checked without a Docker daemon
 * (this machine has none): what the Dockerfile copies exists in the build
 * context after .dockerignore, that set builds on its own, the production
 * stage carries no dev tools, and compose keeps secrets required, images
 * pinned and a worker's health tied to Redis.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (name: string) => readFileSync(join(ROOT, name), 'utf8');
const dockerfile = read('Dockerfile');
const compose = read('docker-compose.yml');
const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** Sources of `COPY` lines that copy from the build context (not from another stage). */
function contextCopies(stage?: string): string[] {
  const text = stage ? dockerfile.slice(dockerfile.indexOf(`AS ${stage}`), dockerfile.indexOf('FROM', dockerfile.indexOf(`AS ${stage}`) + 1)) : dockerfile;
  return text
    .split('\n')
    .filter((l) => /^COPY\s/.test(l) && !l.includes('--from='))
    .flatMap((l) => l.replace(/^COPY\s+/, '').split(/\s+/).slice(0, -1));
}

/** .dockerignore as Docker reads these simple patterns: a name, a directory, or a *.ext glob. */
function excluded(path: string): boolean {
  return ignored.some((pattern) => (pattern.startsWith('*.') ? path.endsWith(pattern.slice(1)) : path === pattern || path.startsWith(`${pattern}/`)));
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
      for (const file of ['dist/src/cli/main.js', 'dist/workers/worker.js', 'dist/workers/simulator.js', 'dist/src/ratelimit/bucket.lua', 'dist/src/queue/hold.lua']) {
        expect(existsSync(join(dir, file)), file).toBe(true);
      }
      expect(dockerfile).toContain('ENTRYPOINT ["node", "dist/src/cli/main.js"]');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('runs on Node 22 LTS, as a non-root user, without dev tools', () => {
    const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
    expect(bases.length).toBe(3);
    for (const base of bases) expect(base).toMatch(/^node:22\.\d+\.\d+-bookworm-slim$/);
    expect(pkg.engines.node).toBe('>=22');
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    // The production stage installs dependencies only: none of these may be one.
    for (const tool of ['tsx', 'typescript', 'vitest', 'fast-check', 'playwright-core']) expect(pkg.dependencies[tool], tool).toBeUndefined();
  });
});

describe('docker-compose.yml', () => {
  it('requires every secret instead of defaulting it', () => {
    for (const secret of ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'LIVEQUEUE_API_TOKEN']) {
      const uses = [...compose.matchAll(new RegExp(`\\$\\{${secret}([^}]*)\\}`, 'g'))].map((m) => m[1]!);
      expect(uses.length, secret).toBeGreaterThan(0);
      for (const use of uses) expect(use, secret).toMatch(/^:\?/);
    }
    expect(compose).not.toMatch(/sim-access-key-secret|change-me/);
  });

  it('pins image tags', () => {
    const images = [...compose.matchAll(/^\s+image:\s*(\S+)/gm)].map((m) => m[1]!);
    expect(images).toContain('redis:7.4.2-alpine');
    for (const image of images) expect(image, image).toMatch(/:\d+\.\d+\.\d+(-[a-z0-9.]+)?$/);
  });

  it("a worker's healthcheck fails while its Redis is unreachable and passes when it is reachable", async () => {
    const line = compose.split('\n').find((l) => l.includes("fetch('http://127.0.0.1:9464/metrics')"))!;
    const script = /"-e", "(.*)"\]$/.exec(line.trim())![1]!.replaceAll('$$', '$');
    const port = await freePort();
    const check = () => spawnSync(process.execPath, ['-e', script.replace('9464', String(port))], { encoding: 'utf8' }).status;
    /** The healthcheck's exit code against a running worker whose Redis is at `redisUrl`. */
    const healthWith = async (redisUrl: string, prefix: string) => {
      const worker = startCli(['worker'], {
        REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, LIVE_ENDPOINT: 'http://127.0.0.1:9', ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, METRICS_PORT: String(port), LOG_LEVEL: 'info',
      });
      try {
        await waitForOutput(worker, (o) => o.includes('workers started'));
        return check();
      } finally {
        worker.child.kill('SIGKILL');
        await worker.exited;
      }
    };

    const prefix = uniquePrefix('health');
    const redis = newRedis();
    try {
      expect(await healthWith(REDIS_URL, prefix)).toBe(0);
    } finally {
      await deleteKeys(redis, prefix);
      redis.disconnect();
    }
    const gone = await LocalRedisServer.start();
    await gone.stop();
    expect(await healthWith(gone.url, prefix)).toBe(1);
  });
});

