import { afterAll, describe, expect, it } from 'vitest';
import { Pacer } from '../src/ratelimit/pacer.ts';
import { defaultBucketSettings, TokenBucket } from '../src/ratelimit/token-bucket.ts';
import { deleteKeys, newRedis, uniquePrefix } from './helpers/redis.ts';
import { maxInAnyWindow } from '../src/sim/index.ts';

const redis = newRedis();
const prefix = uniquePrefix('ratelimit');
afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

describe('TokenBucket (Lua, on Redis time)', () => {
  it('grants evenly spaced slots no further ahead than the horizon', async () => {
    const settings = { ...defaultBucketSettings(20, 10), horizonMs: 120 };
    const bucket = new TokenBucket(redis, `${prefix}:b1`, settings);
    const first = await bucket.reserve(10);
    expect(first.intervalMs).toBeCloseTo(1010 / 20, 6);
    // Slots at 0, 50.5 and 101 ms fit a 120 ms horizon; the fourth does not.
    expect(first.granted).toBe(3);
    expect(first.waitMs).toBeLessThan(1);
    const refused = await bucket.reserve(5);
    expect(refused.granted).toBe(0);
    // The next slot (151.5 ms) enters the horizon after ~31.5 ms, minus the time since.
    expect(refused.waitMs).toBeGreaterThan(20);
    expect(refused.waitMs).toBeLessThanOrEqual(31.5);
  });

  it('reports the rate the workers use, not the reader\'s own configuration', async () => {
    const reader = new TokenBucket(redis, `${prefix}:published`, defaultBucketSettings(5, 15));
    expect(await reader.state()).toMatchObject({ configuredRate: 5, publishedByWorkers: false });
    const worker = new TokenBucket(redis, `${prefix}:published`, defaultBucketSettings(20, 15));
    await worker.reserve(1);
    expect(await reader.state()).toMatchObject({ configuredRate: 20, publishedByWorkers: true, currentRate: 20 });
  });

  it('takes a stray throttle for jitter: it skips one slot and keeps the rate', async () => {
    const bucket = new TokenBucket(redis, `${prefix}:lone`, defaultBucketSettings(20, 0));
    const before = await bucket.reserve(1);
    expect(await bucket.onThrottled()).toBe(20);
    const after = await bucket.reserve(1);
    // The next slot is one interval (50 ms) later than it would have been.
    expect(after.waitMs).toBeGreaterThan(before.waitMs + 50 + 50 - 15);
    expect(after.intervalMs).toBeCloseTo(50, 6);
    expect((await bucket.state()).currentRate).toBe(20);
  });

  it('slows down when throttles repeat, honours the retry hint, then recovers gradually', async () => {
    const settings = { ...defaultBucketSettings(20, 0), recoveryPerSecond: 0.5 };
    const bucket = new TokenBucket(redis, `${prefix}:b2`, settings);
    // Two are taken for jitter; the third within isolatedMs means another client.
    expect(await bucket.onThrottled()).toBe(20);
    expect(await bucket.onThrottled()).toBe(20);
    const rate = await bucket.onThrottled(300);
    expect(rate).toBeCloseTo(14, 1);
    const state = await bucket.state();
    expect(state.blockedMs).toBeGreaterThan(250);
    // A second throttle inside the quiet period is the same signal, not another decrease.
    expect(await bucket.onThrottled()).toBeCloseTo(14, 0);
    // Nothing can be reserved while the server asked us to wait (300 ms, beyond the 100 ms horizon).
    const reservation = await bucket.reserve(1);
    expect(reservation.granted).toBe(0);
    expect(reservation.waitMs).toBeGreaterThan(150);
    await new Promise((r) => setTimeout(r, 400));
    const later = await bucket.state();
    // 0.5 x 20 per second regained: about +4 after 0.4 s, still below the configured 20.
    expect(later.currentRate).toBeGreaterThan(16);
    expect(later.currentRate).toBeLessThan(20);
  });

  it('never lets a rate fall below its floor', async () => {
    const bucket = new TokenBucket(redis, `${prefix}:b3`, { ...defaultBucketSettings(10, 0), quietMs: 0 });
    let rate = 10;
    for (let i = 0; i < 20; i++) rate = await bucket.onThrottled();
    expect(rate).toBeCloseTo(2, 5);
  });
});

describe('Pacer over a shared bucket', () => {
  // How close to the quota they get is a rate, measured by `npm run bench` (timed thresholds flake on a busy machine).
  it('keeps several pacers (as in several processes) within the QPS in every rolling second, granting every caller a slot', async () => {
    const key = `${prefix}:shared`;
    const connections = [newRedis(), newRedis(), newRedis()];
    const pacers = connections.map((c) => new Pacer(new TokenBucket(c, key, defaultBucketSettings(20, 10))));
    const times: number[] = [];
    const kinds: string[] = [];
    await Promise.all(
      pacers.flatMap((pacer) => Array.from({ length: 30 }, async () => {
        const grant = await pacer.acquire(1);
        kinds.push(grant.kind);
        times.push(performance.timeOrigin + performance.now());
      })),
    );
    connections.forEach((c) => c.disconnect());
    // Every one of the 90 callers got a slot (none was sent back or left waiting) ...
    expect(kinds).toEqual(Array.from({ length: 90 }, () => 'slot'));
    times.sort((a, b) => a - b);
    // ... and never more than 20 in any rolling second, across the three.
    expect(maxInAnyWindow(times, 1000)).toBeLessThanOrEqual(20);
  });

  it('hands the next slot to the most urgent waiter', async () => {
    const pacer = new Pacer(new TokenBucket(redis, `${prefix}:prio`, defaultBucketSettings(10, 0)));
    const order: string[] = [];
    const normal = Array.from({ length: 6 }, (_, i) => pacer.acquire(1).then(() => order.push(`normal${i}`)));
    await new Promise((r) => setTimeout(r, 30));
    const urgent = pacer.acquire(0).then(() => order.push('urgent'));
    await Promise.all([...normal, urgent]);
    // Slots already granted to the horizon may go first; the urgent call must beat most of the backlog.
    expect(order.indexOf('urgent')).toBeLessThanOrEqual(3);
    expect(order.indexOf('urgent')).toBeLessThan(order.indexOf('normal5'));
  });

  it('sends the last backlog waiters back when urgent jobs are on their way, never an urgent waiter, and keeps their slots', async () => {
    const pacer = new Pacer(new TokenBucket(redis, `${prefix}:give-way`, defaultBucketSettings(10, 0)));
    const grants = new Map<string, string>();
    const wait = (name: string, priority: number) => pacer.acquire(priority).then((g) => grants.set(name, g.kind));
    const waiting = [wait('urgent-0', 0), wait('normal-0', 1), wait('normal-1', 1), wait('normal-2', 1)];
    // Two urgent jobs announced: the two last in line give way at once; a third request finds no more backlog to spare.
    expect(pacer.giveWay(2)).toBe(2);
    await new Promise((r) => setImmediate(r));
    expect(grants.get('normal-2')).toBe('give-way');
    expect(grants.get('normal-1')).toBe('give-way');
    expect(pacer.giveWay(5)).toBe(1);
    expect(pacer.giveWay(5)).toBe(0);
    // The urgent waiter was never asked to give way; it gets a slot.
    const arrived = wait('urgent-1', 0);
    await Promise.all([...waiting, arrived]);
    expect(grants.get('urgent-0')).toBe('slot');
    expect(grants.get('urgent-1')).toBe('slot');
    expect(grants.get('normal-0')).toBe('give-way');
  });
});
