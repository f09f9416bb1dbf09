import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, statusOf, type Harness } from './helpers/harness.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The urgent lane when every place of a worker is taken by backlog jobs
 * waiting for their slots: the urgent job must not wait for one of them to be
 * sent before it is even fetched (queue/urgent-notices.ts, Pacer.giveWay).
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ban = (stream: string) => ({ DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: stream, Oneshot: 'yes' });

describe('an urgent ban behind a worker full of backlog', () => {
  it('takes the next slot: a backlog job gives way and keeps its place and its attempts', async () => {
    // 2 QPS: slots about 507 ms apart, so "the next call" is unambiguous.
    h = await startHarness('urgent-lane', { FORBID_QPS: '2' }, { latencyMs: { min: 5, max: 10 } });
    const harness = h;
    const backlog = 8;
    const enqueued = await h.intake.add('ForbidLiveStream', Array.from({ length: backlog }, (_, i) => ({ params: ban(`backlog-${i}`) })));
    // Three places, all taken: one job sent per slot, two waiting for theirs.
    h.startWorkers({ operations: ['ForbidLiveStream'], concurrency: 3 });
    const bans = () => harness.sim.calls().filter((c) => c.action === 'ForbidLiveStream');
    await waitFor(() => bans().length >= 2, 10_000, 'two backlog calls');
    // Between two slots, when the last call's job has finished and its place was refilled from the backlog.
    const last = bans().at(-1)!.at;
    await waitFor(() => Date.now() >= last + 200, 1_000, 'mid-interval');
    const enqueuedAt = Date.now();
    const urgent = (await h.intake.add('ForbidLiveStream', [{ params: ban('urgent-0'), priority: 'urgent' }]))[0]!;
    expect(urgent.status).toBe('enqueued');

    await waitFor(() => bans().some((c) => c.at >= enqueuedAt), 5_000, 'a call after the urgent job');
    const next = bans().find((c) => c.at >= enqueuedAt)!;
    // Without the lane, the next slot went to a backlog job already held, and the urgent one came a slot later.
    expect(next.params.StreamName).toBe('urgent-0');

    // The job that gave way is neither lost nor charged an attempt.
    const rows = await h.drained(backlog + 1, 15_000);
    expect(statusOf(rows, 'ForbidLiveStream')).toMatchObject({ applied: backlog + 1, deadLettered: 0 });
    expect(new Set(bans().filter((c) => c.code === 'OK').map((c) => c.params.StreamName)).size).toBe(backlog + 1);
    expect(bans()).toHaveLength(backlog + 1);
    for (const result of [...enqueued, urgent]) {
      expect(result.status).toBe('enqueued');
      if (result.status === 'enqueued') expect(await h.runtime.outcomes.get(result.jobId)).toMatchObject({ outcome: 'applied', attempts: 1 });
    }
  });
});
