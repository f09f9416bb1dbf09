import { QUOTA_SHARE_GOAL, QUOTA_SHARE_TARGET, type ResultRow } from '../lib/result.ts';
import { startCluster } from '../../test/helpers/redis-servers.ts';
import { overheadDrain } from './overhead.ts';
import { pacingDrain } from './pacing.ts';

/**
 * livequeue on a real 3-master Redis Cluster (started here on loopback, as the
 * tests do) against livequeue on the single node: the baseline column is the
 * single node. Pacing must use the same share of the quota, and the queue's
 * own throughput at 2,000 QPS at least 0.9 of the single node's.
 */
export async function clusterScenario(pacingJobs: number, overheadJobs: number): Promise<ResultRow[]> {
  const cluster = await startCluster(3, 0);
  try {
    const options = { name: 'pacing', jobs: pacingJobs, processes: 1, operations: ['ForbidLiveStream'] as const };
    const single = await pacingDrain('livequeue', options);
    const clustered = await pacingDrain('livequeue', { ...options, cluster: cluster.nodes });
    const singleOverhead = await overheadDrain('livequeue', overheadJobs);
    const clusterOverhead = await overheadDrain('livequeue', overheadJobs, cluster.nodes);
    const quota = (run: typeof single) => run.figures.ForbidLiveStream!.okPerSecond / run.qps.ForbidLiveStream;
    const name = 'Redis Cluster, 3 masters (baseline column: livequeue on one Redis node)';
    return [
      { scenario: name, measure: `pacing, ${pacingJobs} bans: calls/s ÷ QPS`, baseline: quota(single), livequeue: quota(clustered), unit: 'ratio', target: QUOTA_SHARE_TARGET, met: quota(clustered) >= QUOTA_SHARE_GOAL },
      { scenario: name, measure: 'pacing: throttled calls ÷ all calls', baseline: single.figures.ForbidLiveStream!.throttledShare, livequeue: clustered.figures.ForbidLiveStream!.throttledShare, unit: 'share', target: '<= 0.002', met: clustered.figures.ForbidLiveStream!.throttledShare <= 0.002 },
      { scenario: name, measure: `queue overhead at 2,000 QPS, ${overheadJobs} jobs: jobs/s`, baseline: singleOverhead.jobsPerSecond, livequeue: clusterOverhead.jobsPerSecond, unit: 'jobs/s', target: '>= 0.9 × single node', met: clusterOverhead.jobsPerSecond >= 0.9 * singleOverhead.jobsPerSecond },
      { scenario: name, measure: 'worker CPU per job', baseline: singleOverhead.cpuMsPerJob, livequeue: clusterOverhead.cpuMsPerJob, unit: 'ms', target: 'report', met: true },
    ];
  } finally {
    await cluster.stop();
  }
}
