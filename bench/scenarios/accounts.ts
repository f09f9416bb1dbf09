import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pacing } from '../lib/measure.ts';
import { start, stop, waitFor, type Proc } from '../lib/procs.ts';
import { QUOTA_SHARE_GOAL, QUOTA_SHARE_TARGET, type ResultRow } from '../lib/result.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, bans, LIVEQUEUE_WORKER, newRun } from '../lib/setup.ts';
import { accountRuntimes } from '../../src/app/runtime.ts';
import { loadConfig } from '../../src/config.ts';

const SECOND_KEY = { id: 'bench-second-key', secret: `${ACCESS_KEY_SECRET}-second` };

/**
 * Two accounts drained from one worker process, against one account drained
 * alone: each must keep its own quota (its own AccessKey, counted apart by the
 * simulator). The one-account figure stands in the baseline column.
 */
async function drain(accounts: 1 | 2, jobs: number): Promise<number[]> {
  const run = await newRun('livequeue', { latencyMs: { min: 10, max: 30 }, accessKeys: { [ACCESS_KEY_ID]: ACCESS_KEY_SECRET, [SECOND_KEY.id]: SECOND_KEY.secret } });
  const dir = mkdtempSync(join(tmpdir(), 'lqbench-accounts-'));
  const procs: Proc[] = [];
  try {
    const credentials = join(dir, 'credentials');
    writeFileSync(credentials, `[first]\ntype = access_key\naccess_key_id = ${ACCESS_KEY_ID}\naccess_key_secret = ${ACCESS_KEY_SECRET}\n\n[second]\ntype = access_key\naccess_key_id = ${SECOND_KEY.id}\naccess_key_secret = ${SECOND_KEY.secret}\n`);
    const accountsFile = join(dir, 'accounts.json');
    const names = accounts === 1 ? ['first'] : ['first', 'second'];
    writeFileSync(accountsFile, JSON.stringify({ accounts: names.map((name) => ({ name, profile: name })) }));
    const env = run.workerEnv({ LIVEQUEUE_ACCOUNTS_FILE: accountsFile, ALIBABA_CLOUD_CREDENTIALS_FILE: credentials, METRICS_PORT: '0', ALIBABA_CLOUD_ACCESS_KEY_ID: '', ALIBABA_CLOUD_ACCESS_KEY_SECRET: '' });
    const config = loadConfig(env);
    const runtimes = accountRuntimes(run.redis, config);
    try {
      for (const runtime of runtimes) await runtime.intake.add('ForbidLiveStream', bans(jobs, runtime.name));
      procs.push(start([LIVEQUEUE_WORKER], env));
      await waitFor(async () => {
        const rows = (await Promise.all(runtimes.map((r) => r.status()))).flat();
        return rows.every((r) => r.waiting + r.delayed + r.active === 0);
      }, (jobs / 20) * 3000 + 60_000, `${accounts} account drain`);
    } finally {
      await Promise.all(runtimes.map((r) => r.close()));
    }
    const calls = run.sim.calls();
    return [ACCESS_KEY_ID, SECOND_KEY.id].slice(0, accounts).map((key) => pacing(calls.filter((c) => c.accessKeyId === key)).okPerSecond / 20);
  } finally {
    await stop(procs);
    await run.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function accountsScenario(jobs: number): Promise<ResultRow[]> {
  const [alone] = await drain(1, jobs);
  const [first, second] = await drain(2, jobs);
  const name = `two accounts from one worker process, ${jobs} bans each (baseline column: one account alone)`;
  return [
    { scenario: name, measure: 'first account: calls/s ÷ its QPS', baseline: alone!, livequeue: first!, unit: 'ratio', target: QUOTA_SHARE_TARGET, met: first! >= QUOTA_SHARE_GOAL },
    { scenario: name, measure: 'second account: calls/s ÷ its QPS', baseline: alone!, livequeue: second!, unit: 'ratio', target: QUOTA_SHARE_TARGET, met: second! >= QUOTA_SHARE_GOAL },
  ];
}
