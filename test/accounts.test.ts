import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountRuntimes, type AccountRuntime } from '../src/app/runtime.ts';
import { loadConfig, type Config } from '../src/config.ts';
import { maxInAnyWindow } from '../src/sim/index.ts';
import { startTestServer } from './helpers/http.ts';
import { runCli, startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { startSimulatorProcess, type SimulatorProcess } from './helpers/simulator-process.ts';
import { deleteKeys, newRedis, REDIS_URL, uniquePrefix } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Two Alibaba Cloud accounts in one deployment: an accounts file naming two
 * profiles of a credentials file, one simulator that knows both AccessKeys
 * and counts each one's quota on its own, and real worker processes.
 */
const KEYS = {
  main: { id: 'main-access-key', secret: `main-${randomBytes(12).toString('hex')}` },
  backup: { id: 'backup-access-key', secret: `backup-${randomBytes(12).toString('hex')}` },
};
const QPS = { main: 20, backup: 10 };

let dir: string;
let sim: SimulatorProcess;
const redis = newRedis();
const workers: RunningProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lq-accounts-'));
  const keysFile = join(dir, 'access-keys.json');
  writeFileSync(keysFile, JSON.stringify({ [KEYS.main.id]: KEYS.main.secret, [KEYS.backup.id]: KEYS.backup.secret }));
  sim = await startSimulatorProcess(['--latency', '5-15', '--access-keys-file', keysFile]);
});
afterAll(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await sim.stop();
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

/** A deployment: its own key prefix, accounts file and credentials file (the backup profile's secret optionally wrong). */
function deployment(name: string, { wrongBackupSecret = false } = {}) {
  const prefix = uniquePrefix(name);
  const credentials = join(dir, `${name}-credentials`);
  writeFileSync(
    credentials,
    `[main]\ntype = access_key\naccess_key_id = ${KEYS.main.id}\naccess_key_secret = ${KEYS.main.secret}\n\n` +
      `[backup]\ntype = access_key\naccess_key_id = ${KEYS.backup.id}\naccess_key_secret = ${wrongBackupSecret ? 'not-the-secret' : KEYS.backup.secret}\n`,
  );
  const accountsFile = join(dir, `${name}-accounts.json`);
  writeFileSync(accountsFile, JSON.stringify({ accounts: [{ name: 'main', profile: 'main' }, { name: 'backup', profile: 'backup', forbidQps: QPS.backup, region: 'cn-beijing' }] }));
  const env = {
    REDIS_URL, QUEUE_PREFIX: prefix, LIVE_ENDPOINT: sim.endpoint, LOG_LEVEL: 'info', METRICS_PORT: '0',
    LIVEQUEUE_ACCOUNTS_FILE: accountsFile, ALIBABA_CLOUD_CREDENTIALS_FILE: credentials,
    HOLD_PROBE_MS: '30000', HOLD_PROBE_MAX_MS: '30000',
  };
  const config: Config = loadConfig(env);
  return { prefix, env, config, close: () => deleteKeys(redis, prefix) };
}

const bans = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `${tag}-${i}`, Oneshot: 'yes' } }));
const banLines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => JSON.stringify({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: `${tag}-${i}`, Oneshot: 'yes' })).join('\n');

async function drained(runtimes: AccountRuntime[], names: string[], expected: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => {
    const rows = (await Promise.all(runtimes.filter((r) => names.includes(r.name)).map((r) => r.status()))).flat();
    return rows.reduce((n, r) => n + r.applied + r.alreadyApplied + r.deadLettered, 0) >= expected && rows.every((r) => r.waiting + r.delayed + r.active === 0);
  }, timeoutMs, `${names.join(', ')} drained`);
}

describe('several accounts in one deployment', () => {
  it('one worker process drains both accounts at once, each at its own quota and with its own key', async () => {
    const d = deployment('acct-drain');
    const runtimes = accountRuntimes(redis, d.config);
    try {
      const worker = startCli(['worker'], d.env);
      workers.push(worker);
      await waitForOutput(worker, (o) => o.includes('workers started'));
      expect(worker.output()).toMatch(/"account":"main".*"account":"backup"/s);
      const since = Date.now();
      // Both backlogs at once, from this process: no command starting up
      // competes with the worker for the CPU while it paces (the CLI's
      // --account is exercised below).
      const [main, backup] = runtimes as [AccountRuntime, AccountRuntime];
      await Promise.all([main.intake.add('ForbidLiveStream', bans(120, 'am')), backup.intake.add('ForbidLiveStream', bans(60, 'ab'))]);
      await drained(runtimes, ['main', 'backup'], 180);

      const calls = (await sim.calls(since)).filter((c) => c.action === 'ForbidLiveStream');
      const of = (key: string) => calls.filter((c) => c.accessKeyId === key);
      // The boundary: every call of a job carries its own account's AccessKey and region.
      expect(of(KEYS.main.id).every((c) => c.params.StreamName!.startsWith('am-') && c.params.RegionId === 'cn-shanghai')).toBe(true);
      expect(of(KEYS.backup.id).every((c) => c.params.StreamName!.startsWith('ab-') && c.params.RegionId === 'cn-beijing')).toBe(true);
      expect(of(KEYS.main.id).filter((c) => c.code === 'OK')).toHaveLength(120);
      expect(of(KEYS.backup.id).filter((c) => c.code === 'OK')).toHaveLength(60);
      // Each at its own quota, never above it, both at once.
      for (const [key, qps] of [[KEYS.main.id, QPS.main], [KEYS.backup.id, QPS.backup]] as const) {
        const ok = of(key).filter((c) => c.code === 'OK');
        expect(maxInAnyWindow(ok.map((c) => c.at), 1000)).toBeLessThanOrEqual(qps);
        // Not one call throttled: each account's pacing kept to its own quota. How close to
        // it they ran is a rate, the bench's to measure (accounts scenario), not a test's.
        expect(of(key).filter((c) => c.code !== 'OK')).toEqual([]);
      }
      const mainCalls = of(KEYS.main.id);
      const backupCalls = of(KEYS.backup.id);
      expect(backupCalls[0]!.at).toBeLessThan(mainCalls.at(-1)!.at);

      // Status per account, from the workers' published rates.
      const all = await runCli(['status', '--json'], d.env);
      const rows = JSON.parse(all.stdout) as { account: string; operation: string; applied: number; configuredRate: number }[];
      expect(rows.map((r) => `${r.account}/${r.operation}`)).toEqual(['main/ForbidLiveStream', 'main/StopLiveStreamMonitor', 'main/ResumeLiveStream', 'backup/ForbidLiveStream', 'backup/StopLiveStreamMonitor', 'backup/ResumeLiveStream']);
      expect(rows.find((r) => r.account === 'backup' && r.operation === 'ForbidLiveStream')).toMatchObject({ applied: 60, configuredRate: QPS.backup });
      const one = await runCli(['--account', 'backup', 'status', '--json'], d.env);
      expect((JSON.parse(one.stdout) as { account: string }[]).every((r) => r.account === 'backup')).toBe(true);

      // A backup job written into main's queue by hand is never run with main's key.
      const [mainRuntime] = runtimes;
      const stray = `forbid.backup.${'ab'.repeat(16)}`;
      await mainRuntime!.queue('ForbidLiveStream').add('ForbidLiveStream', { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'stray', LiveStreamType: 'publisher' }, { jobId: stray });
      await waitFor(async () => (await mainRuntime!.deadLetters.count()) === 1, 10_000, 'the stray job dead-lettered');
      expect(await mainRuntime!.deadLetters.list()).toMatchObject([{ id: stray, code: 'WrongAccount', reason: 'invalid-payload', attempts: 1 }]);
      expect((await sim.calls(since)).some((c) => c.params.StreamName === 'stray')).toBe(false);

      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    } finally {
      await Promise.all(runtimes.map((r) => r.close()));
      await d.close();
    }
  });

  it('refuses an unknown account at enqueue (exit 2, HTTP 404), naming it', async () => {
    const d = deployment('acct-unknown');
    try {
      const refused = await runCli(['--account', 'nope', 'enqueue', 'forbid', '--file', '-'], d.env, banLines(1, 'x'));
      expect(refused.code).toBe(2);
      expect(refused.output).toContain('unknown account "nope"');
      expect(refused.output).toContain('"main", "backup"');
      const server = await startTestServer(d.config);
      try {
        const answer = await server.request('/v1/accounts/nope/forbid', { method: 'POST', json: [{ DomainName: 'demo.aliyundoc.com', AppName: 'a', StreamName: 's' }] });
        expect(answer.status).toBe(404);
        expect(await answer.json()).toMatchObject({ error: 'unknown-account', message: expect.stringContaining('"nope"') });
        const ok = await server.request('/v1/accounts/backup/forbid', { method: 'POST', json: [{ DomainName: 'demo.aliyundoc.com', AppName: 'a', StreamName: 'http-1' }] });
        expect(ok.status).toBe(202);
        const [jobId] = ((await ok.json()) as { results: { jobId: string }[] }).results.map((r) => r.jobId);
        expect(jobId).toMatch(/^forbid\.backup\./);
        expect((await server.request(`/v1/accounts/backup/jobs/${jobId}`)).status).toBe(200);
        // The job is backup's: the default account's routes (main) do not see it.
        expect((await server.request(`/v1/jobs/${jobId}`)).status).toBe(404);
      } finally {
        await server.close();
      }
      const keys = await redis.keys(`${d.prefix}*`);
      expect(keys.some((k) => k.includes('nope'))).toBe(false);
    } finally {
      await d.close();
    }
  });

  it('keeps dead letters and resume per account unless told --all-accounts', async () => {
    const d = deployment('acct-dlq');
    const runtimes = accountRuntimes(redis, d.config);
    const [main, backup] = runtimes as [AccountRuntime, AccountRuntime];
    try {
      const entry = (account: string) => ({
        id: `stop-monitor.${account}.${randomUUID()}`, operation: 'StopLiveStreamMonitor' as const, params: { MonitorId: randomUUID() }, priority: 'normal' as const,
        reason: 'terminal' as const, code: 'StreamMonitorNotExist', message: 'gone', attempts: 1, firstFailedAt: 1, lastFailedAt: 2,
      });
      await main.deadLetters.add(entry('main'));
      await backup.deadLetters.add(entry('backup'));
      const list = async (account: string) => JSON.parse((await runCli(['--account', account, 'dlq', 'list', '--json'], d.env)).stdout) as { id: string }[];
      expect((await list('main')).map((e) => e.id)).toEqual([expect.stringMatching(/^stop-monitor\.main\./)]);
      expect((await list('backup')).map((e) => e.id)).toEqual([expect.stringMatching(/^stop-monitor\.backup\./)]);
      expect((await runCli(['--account', 'backup', 'dlq', 'purge', '--all', '--confirm', '1'], d.env)).stdout.trim()).toBe('purged 1 entry');
      expect(await main.deadLetters.count()).toBe(1);
      expect(await backup.deadLetters.count()).toBe(0);
      await backup.deadLetters.add(entry('backup'));
      expect(JSON.parse((await runCli(['dlq', 'purge', '--all', '--all-accounts', '--dry-run', '--json'], d.env)).stdout)).toMatchObject({ wouldPurge: 2 });
      expect((await runCli(['dlq', 'purge', '--all', '--all-accounts', '--confirm', '2'], d.env)).stdout.trim()).toBe('purged 2 entries');
      expect([await main.deadLetters.count(), await backup.deadLetters.count()]).toEqual([0, 0]);
      await main.deadLetters.add(entry('main'));

      await main.holds.pause('ForbidLiveStream', 'checking');
      await backup.holds.pause('ForbidLiveStream', 'checking');
      const one = await runCli(['--account', 'backup', 'resume', 'forbid'], d.env);
      expect(one.stdout).toContain('resumed forbid (account backup): lifted the manual hold');
      expect(await main.holds.current('ForbidLiveStream')).toMatchObject({ reason: 'manual' });
      const all = await runCli(['resume', 'forbid', '--all-accounts'], d.env);
      expect(all.stdout).toContain('(account main): lifted the manual hold');
      expect(await main.holds.current('ForbidLiveStream')).toBeUndefined();
    } finally {
      await Promise.all(runtimes.map((r) => r.close()));
      await d.close();
    }
  });

  it('a hold on one account does not slow the other', async () => {
    const d = deployment('acct-hold', { wrongBackupSecret: true });
    const runtimes = accountRuntimes(redis, d.config);
    const [main, backup] = runtimes as [AccountRuntime, AccountRuntime];
    try {
      const enqueued = await runCli(['--account', 'backup', 'enqueue', 'forbid', '--file', '-'], d.env, banLines(100, 'hb'));
      expect(enqueued.code).toBe(0);
      const worker = startCli(['worker', '--operations', 'forbid'], d.env);
      workers.push(worker);
      await waitForOutput(worker, (o) => o.includes('workers started'));
      // The backup key is wrong on this host: the process holds itself for backup (probes 30 s apart, so the account is not held yet).
      await waitFor(async () => (await backup.status())[0]!.heldProcesses.length > 0, 10_000, 'backup held');
      const since = Date.now();
      await main.intake.add('ForbidLiveStream', bans(120, 'hm'));
      await drained(runtimes, ['main'], 120);
      const [backupRow] = await backup.status();
      expect(backupRow).toMatchObject({ account: 'backup', applied: 0, deadLettered: 0, heldProcesses: [expect.objectContaining({ code: 'SignatureDoesNotMatch', pid: worker.child.pid })] });
      expect(backupRow!.waiting + backupRow!.delayed + backupRow!.active).toBe(100);
      expect((await main.status())[0]).toMatchObject({ applied: 120, hold: null });
      const calls = (await sim.calls(since)).filter((c) => c.accessKeyId === KEYS.main.id && c.action === 'ForbidLiveStream');
      // Not slowed by backup's hold: all of main's 120 calls made, every one OK (none throttled), within its
      // quota in every rolling second. How busy main's bucket stayed is a rate, the bench's (accounts scenario).
      expect(calls.filter((c) => c.code === 'OK')).toHaveLength(120);
      expect(calls.filter((c) => c.code !== 'OK')).toEqual([]);
      expect(maxInAnyWindow(calls.map((c) => c.at), 1000)).toBeLessThanOrEqual(QPS.main);
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    } finally {
      await Promise.all(runtimes.map((r) => r.close()));
      await d.close();
    }
  });
});

describe('the accounts file', () => {
  const write = (content: unknown) => {
    const path = join(dir, `accounts-${randomUUID()}.json`);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  it.each([
    [{ accounts: [{ name: 'main', profile: 'main', forbidQps: 'fast' }] }, 'account "main": forbidQps must be a number'],
    [{ accounts: [{ name: 'main' }] }, 'account "main": profile is required'],
    [{ accounts: [{ name: 'main', profile: 'main', region: 'Shanghai' }] }, 'account "main": region must be a region id'],
    [{ accounts: [{ name: 'main', profile: 'main', qps: 5 }] }, 'account "main": unknown field "qps"'],
    [{ accounts: [{ name: 'a b', profile: 'main' }] }, 'account "a b": name must be 1-64 letters'],
    [{ accounts: [{ name: 'main', profile: 'main' }, { name: 'main', profile: 'other' }] }, 'account "main": name appears twice'],
    [{ accounts: [] }, 'accounts must name at least one account'],
    ['{not json', 'is not JSON'],
  ])('refuses %j naming the account and the field', (content, message) => {
    const path = write(content);
    expect(() => loadConfig({ LIVEQUEUE_ACCOUNTS_FILE: path })).toThrow(message);
    expect(() => loadConfig({ LIVEQUEUE_ACCOUNTS_FILE: path })).toThrow(`LIVEQUEUE_ACCOUNTS_FILE ${path}: `);
  });

  it('fills in the defaults and keeps named accounts under their own hash tag', () => {
    const config = loadConfig({ LIVEQUEUE_ACCOUNTS_FILE: write({ accounts: [{ name: 'main', profile: 'p1' }, { name: 'b', profile: 'p2', stopMonitorQps: 4, domains: ['Live.Example.com'] }] }), LIVE_REGION: 'cn-hangzhou', LIVE_DOMAINS: 'x.example.com' });
    expect(config.accounts).toEqual([
      { name: 'main', profile: 'p1', qps: { ForbidLiveStream: 20, StopLiveStreamMonitor: 10, ResumeLiveStream: 30 }, region: 'cn-hangzhou', domains: ['x.example.com'] },
      { name: 'b', profile: 'p2', qps: { ForbidLiveStream: 20, StopLiveStreamMonitor: 4, ResumeLiveStream: 30 }, region: 'cn-hangzhou', domains: ['live.example.com'] },
    ]);
    expect(config.account).toBe('main');
    const [main] = accountRuntimes(redis, config, ['main']);
    expect(main!.prefix).toBe('livequeue:{main}');
    void main!.close();
  });
});
