import type { ResultRow } from '../lib/result.ts';
import { bans, newRun, type System } from '../lib/setup.ts';

async function bytesPerJob(system: System, jobs: number): Promise<number> {
  const run = await newRun(system);
  try {
    const used = async () => Number(/used_memory:(\d+)/.exec(await run.redis.info('memory'))![1]);
    const before = await used();
    await run.enqueue('ForbidLiveStream', bans(jobs, 'memory', { Oneshot: 'no', ResumeTime: '2030-01-01T00:00:00Z' }));
    return ((await used()) - before) / jobs;
  } finally {
    await run.close();
  }
}

/** Redis memory per pending job (INFO memory delta): our job ids, options and priority vs. plain BullMQ jobs with the same data. */
export async function memoryScenario(jobs: number): Promise<ResultRow[]> {
  const b = await bytesPerJob('baseline', jobs);
  const o = await bytesPerJob('livequeue', jobs);
  return [{ scenario: `Redis memory, ${jobs.toLocaleString('en')} pending jobs`, measure: 'bytes per pending job', baseline: b, livequeue: o, unit: 'bytes', target: '<= 2048', met: o <= 2048 }];
}
