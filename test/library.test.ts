import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createLivequeue, type LivequeueEvent } from '../src/index.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, startHarness } from './helpers/harness.ts';
import { startCli, waitForOutput } from './helpers/processes.ts';
import { deleteKeys, newRedis, REDIS_URL, testConfig, uniquePrefix } from './helpers/redis.ts';

/** The library API, and the README's snippet run as written, through the package's own name. */
const redis = newRedis();
const prefixes: string[] = [];
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(redis, prefix);
  redis.disconnect();
});

describe('the library API', () => {
  it('enqueues valid jobs, reports invalid ones by index, and reads the status', async () => {
    const prefix = uniquePrefix('library');
    prefixes.push(prefix);
    const livequeue = await createLivequeue({ config: testConfig(prefix) });
    try {
      const bans = await livequeue.forbid([{ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'l1' }, { DomainName: 'demo.aliyundoc.com', StreamName: 'no-app' }], { batch: 'lib-run' });
      expect(bans).toEqual({ batch: 'lib-run', enqueued: 1, duplicates: 0, invalid: [{ index: 1, errors: [{ field: 'AppName', message: 'AppName is required and must be a string' }] }] });
      expect((await livequeue.forbid({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'l1' })).duplicates).toBe(1);
      const [forbid] = await livequeue.status();
      expect(forbid).toMatchObject({ operation: 'ForbidLiveStream', waiting: 1 });
      // Lifts, and any operation of the catalog by name; a name that is none is refused, saying which are.
      expect(await livequeue.resume({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'l1' })).toMatchObject({ enqueued: 1 });
      expect(await livequeue.enqueue('StopLiveStreamMonitor', { MonitorId: '445409ec-7eaa-461d-8f29-4bec2eb9a1b2' })).toMatchObject({ enqueued: 1 });
      await expect(livequeue.enqueue('DeleteLiveStream' as never, {})).rejects.toThrow('operation must be one of ForbidLiveStream, StopLiveStreamMonitor, ResumeLiveStream (got "DeleteLiveStream")');
    } finally {
      await livequeue.close();
    }
  });

  it('pushes outcomes and batch.done to an async iterator; `after` resumes past the last one handled', async () => {
    const h = await startHarness('library-events');
    const worker = startCli(['worker'], { REDIS_URL, QUEUE_PREFIX: h.config.prefix, LIVE_ENDPOINT: h.endpoint, ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET, LOG_LEVEL: 'info', METRICS_PORT: '0' });
    const livequeue = await createLivequeue({ config: h.config, actor: 'moderation-service' });
    try {
      await waitForOutput(worker, (o) => o.includes('workers started'));
      const events = livequeue.events({ batch: 'lib-events' });
      const seen: LivequeueEvent[] = [];
      const reading = (async () => {
        for await (const event of events) {
          seen.push(event);
          if (seen.length === 3) break;
        }
      })();
      // Let the iterator take its starting point, then enqueue: the events from now on.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const streams = ['e1', 'e2', 'e3', 'e4', 'e5'];
      await livequeue.forbid(streams.map((StreamName) => ({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName })), { batch: 'lib-events', reason: 'library test' });
      await reading;
      // A second iterator resumes after the third event: the rest, then batch.done.
      const rest: LivequeueEvent[] = [];
      for await (const event of livequeue.events({ batch: 'lib-events', after: seen.at(-1)!.id })) {
        rest.push(event);
        if (event.type === 'batch.done') break;
      }
      const outcomes = [...seen, ...rest].filter((e) => e.type === 'outcome');
      expect(outcomes.map((e) => e.data.stream).sort()).toEqual(streams.map((s) => `demo.aliyundoc.com/liveApp/${s}`));
      for (const e of outcomes) expect(e.data).toMatchObject({ outcome: 'applied', batch: 'lib-events', actor: 'moderation-service', reason: 'library test' });
      expect(rest.at(-1)).toMatchObject({ type: 'batch.done', data: { batch: 'lib-events', counts: { jobs: 5, applied: 5 } } });
    } finally {
      await livequeue.close();
      worker.child.kill('SIGTERM');
      await worker.exited;
      await h.close();
    }
  });

  it('fails with a clear error when Redis does not answer', async () => {
    await expect(createLivequeue({ env: { REDIS_URL: 'redis://127.0.0.1:1' } })).rejects.toThrow('Redis is not reachable (redis://127.0.0.1:1)');
  });

  it('runs the README snippet as written', () => {
    const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
    const library = readme.slice(readme.indexOf('## Library'));
    const snippet = /```ts\n([\s\S]*?)```/.exec(library)![1]!;
    expect(snippet).toContain("from 'livequeue'");
    // Inside the package, so that `import ... from 'livequeue'` resolves through package.json "exports".
    const dir = fileURLToPath(new URL('./.artifacts/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = `${dir}readme-library-snippet.ts`;
    writeFileSync(file, snippet);
    const prefix = uniquePrefix('readme-snippet');
    prefixes.push(prefix);
    const run = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', env: { ...process.env, REDIS_URL, QUEUE_PREFIX: prefix }, timeout: 30_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^\d{8}T\d{6}-[0-9a-f]{6} 1 \[\] \[[\s\S]*'ForbidLiveStream: 1 waiting'[\s\S]*'StopLiveStreamMonitor: 1 waiting'[\s\S]*\]\n$/);
  });
});
