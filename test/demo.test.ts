import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startCli, waitForOutput } from './helpers/processes.ts';
import { newRedis, REDIS_URL } from './helpers/redis.ts';

/**
 * The quick start is a promise: `livequeue demo` drains, summarizes and
 * cleans up after itself, also when it is interrupted or its output is cut.
 */
const redis = newRedis();
afterAll(() => redis.disconnect());

/** The demo's prefix, from its first line. */
const prefixOf = (output: string) => /prefix (\S+)/.exec(output)?.[1];

describe('livequeue demo', () => {
  it('drains bans and monitor stops, shows the summary and the dead letters, and leaves no key behind', async () => {
    const demo = await runCli(['demo', '--bans', '60', '--monitor-stops', '20'], { REDIS_URL, LOG_LEVEL: 'silent' });
    expect(demo.code, demo.output).toBe(0);
    expect(demo.stdout).toContain('enqueued 61 forbid jobs');
    expect(demo.stdout).toContain('rejected record 61: ResumeTime must be yyyy-MM-ddTHH:mm:ssZ in UTC');
    expect(demo.stdout).toMatch(/simulator, ForbidLiveStream: most calls in any rolling second (\d+) \(limit 20\)/);
    expect(Number(/most calls in any rolling second (\d+) \(limit 20\)/.exec(demo.stdout)![1])).toBeLessThanOrEqual(20);
    // Two of the monitors do not exist: their stops are dead letters with the reason.
    expect(demo.stdout).toMatch(/dead-letter queue \(\d+ entries\):[\s\S]*StreamMonitorNotExist/);
    const prefix = prefixOf(demo.stdout)!;
    expect(prefix).toMatch(/^livequeue-demo-[0-9a-f]{6}$/);
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  });

  it.each([
    ['SIGINT', 'SIGINT'],
    ['SIGTERM', 'SIGTERM'],
  ] as const)('on %s stops the worker, removes its keys and exits 130', async (_, signal) => {
    const demo = startCli(['demo', '--bans', '2000', '--monitor-stops', '10'], { REDIS_URL, LOG_LEVEL: 'silent' });
    await waitForOutput(demo, (o) => o.includes('enqueued 2001 forbid jobs'));
    const prefix = prefixOf(demo.output())!;
    expect((await redis.keys(`${prefix}:*`)).length).toBeGreaterThan(0);
    demo.child.kill(signal);
    expect(await demo.exited).toBe(130);
    expect(demo.output()).toContain(`livequeue demo: ${signal}: stopping the worker, removing the demo's keys`);
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  });

  it('cleans up when its output is closed under it (`| head`)', async () => {
    const demo = startCli(['demo', '--bans', '2000', '--monitor-stops', '10'], { REDIS_URL, LOG_LEVEL: 'silent' });
    await waitForOutput(demo, (o) => o.includes('enqueued 2001 forbid jobs'));
    const prefix = prefixOf(demo.output())!;
    demo.child.stdout!.destroy();
    expect(await demo.exited).toBe(130);
    expect(demo.output()).toContain('livequeue demo: output closed');
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  });
});
