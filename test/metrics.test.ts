import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableSlots } from '../src/metrics/queue-gauges.ts';
import { defaultBucketSettings } from '../src/ratelimit/token-bucket.ts';
import { ACCESS_KEY_ID, ACCESS_KEY_SECRET, FAST_RETRIES, startHarness, type Harness } from './helpers/harness.ts';
import { freePort, HTTP_ENV, startTestServer, type TestServer } from './helpers/http.ts';
import { startCli, waitForOutput, type RunningProcess } from './helpers/processes.ts';
import { parseMetrics, sumOf, valueOf, type Sample } from './helpers/prometheus.ts';
import { REDIS_URL } from './helpers/redis.ts';

/**
 * A small drain through a real `livequeue worker` process, with one answer
 * of each kind scripted in the simulator, then both /metrics endpoints: the
 * worker's (its own counters and the shared gauges) and the HTTP server's
 * (the shared gauges).
 */
const PLAIN_BANS = 8;
const ban = (StreamName: string) => ({ params: { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName } });

let h: Harness;
let worker: RunningProcess | undefined;
let server: TestServer;
let metricsUrl: string;
beforeAll(async () => {
  h = await startHarness('metrics', { ...FAST_RETRIES, ...HTTP_ENV }, { latencyMs: { min: 5, max: 15 } });
  server = await startTestServer(h.config);
});
afterAll(async () => {
  worker?.child.kill('SIGKILL');
  await server?.close();
  await h?.close();
});

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await response.text());
}

describe('metrics after a small drain', () => {
  it('count calls, latency, outcomes, retries and throttles in the worker, and show queue depth and buckets on both endpoints', async () => {
    h.sim.script({ action: 'ForbidLiveStream', match: { StreamName: 'm-retry' }, code: 'InternalError', status: 500, times: 1 });
    // Three times: a stray throttle is taken for jitter and keeps the rate; the third within 5 s cuts it.
    h.sim.script({ action: 'ForbidLiveStream', match: { StreamName: 'm-throttle' }, code: 'Throttling.User', status: 400, times: 3 });
    h.sim.script({ action: 'ForbidLiveStream', match: { StreamName: 'm-already' }, code: 'ConfigAlreadyExists', status: 400, times: 1 });
    const bans = [...Array.from({ length: PLAIN_BANS }, (_, i) => ban(`m-${i}`)), ban('m-retry'), ban('m-throttle'), ban('m-already')];
    const monitors = [...h.sim.createMonitors(2), randomUUID()].map((MonitorId) => ({ params: { MonitorId } }));
    await h.intake.add('ForbidLiveStream', bans);
    await h.intake.add('StopLiveStreamMonitor', monitors);

    // Queue depth before any worker, on the HTTP server's /metrics.
    // One more ban through the HTTP API, plus a duplicate and an invalid one: the server counts them.
    const posted = await server.request('/v1/forbid', { method: 'POST', json: [ban('m-http').params, ban('m-http').params, { DomainName: 'demo.aliyundoc.com' }] });
    expect(posted.status).toBe(400);
    bans.push(ban('m-http'));
    await sleep(300);
    const before = await scrape(`${server.url}/metrics`);
    expect(valueOf(before, 'livequeue_queue_jobs', { operation: 'ForbidLiveStream', state: 'waiting' })).toBe(bans.length);
    expect(valueOf(before, 'livequeue_queue_jobs', { operation: 'StopLiveStreamMonitor', state: 'waiting' })).toBe(3);
    for (const [result, n] of [['enqueued', 1], ['duplicate', 1], ['invalid', 1]] as const) {
      expect(valueOf(before, 'livequeue_http_enqueued_total', { operation: 'ForbidLiveStream', result })).toBe(n);
    }
    // The oldest waiting job was enqueued at least 300 ms ago; an idle queue reports 0.
    expect(valueOf(before, 'livequeue_oldest_waiting_job_age_seconds', { operation: 'ForbidLiveStream' })).toBeGreaterThanOrEqual(0.3);
    expect(valueOf(before, 'livequeue_oldest_waiting_job_age_seconds', { operation: 'ResumeLiveStream' })).toBe(0);

    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    worker = startCli(['worker'], {
      REDIS_URL,
      QUEUE_PREFIX: h.config.prefix,
      LIVE_ENDPOINT: h.endpoint,
      ALIBABA_CLOUD_ACCESS_KEY_ID: ACCESS_KEY_ID,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET,
      METRICS_PORT: String(port),
      LOG_LEVEL: 'info',
      ...FAST_RETRIES,
    });
    await waitForOutput(worker, (o) => o.includes('"msg":"metrics listening"'));
    await h.drained(bans.length + monitors.length);

    // The worker counts an outcome just after recording it in Redis: wait for the last one to land.
    const finished = (s: Sample[]) => sumOf(s, 'livequeue_jobs_applied_total') + sumOf(s, 'livequeue_jobs_already_applied_total') + sumOf(s, 'livequeue_jobs_dead_lettered_total');
    let w = await scrape(metricsUrl);
    for (const deadline = Date.now() + 5_000; finished(w) < bans.length + monitors.length && Date.now() < deadline; w = await scrape(metricsUrl)) await sleep(50);

    const forbid = { operation: 'ForbidLiveStream' };
    const stop = { operation: 'StopLiveStreamMonitor' };
    // Calls by operation and answer code: every plain ban once (the one posted over HTTP too), the retried one twice, the throttled one four times.
    expect(valueOf(w, 'livequeue_api_calls_total', { ...forbid, code: 'OK' })).toBe(PLAIN_BANS + 3);
    expect(valueOf(w, 'livequeue_api_calls_total', { ...forbid, code: 'InternalError' })).toBe(1);
    expect(valueOf(w, 'livequeue_api_calls_total', { ...forbid, code: 'Throttling.User' })).toBe(3);
    expect(valueOf(w, 'livequeue_api_calls_total', { ...forbid, code: 'ConfigAlreadyExists' })).toBe(1);
    expect(valueOf(w, 'livequeue_api_calls_total', { ...stop, code: 'OK' })).toBe(2);
    expect(valueOf(w, 'livequeue_api_calls_total', { ...stop, code: 'StreamMonitorNotExist' })).toBe(1);
    // The latency histogram saw every call, each at least the simulator's 5 ms.
    expect(valueOf(w, 'livequeue_api_call_duration_seconds_count', forbid)).toBe(bans.length + 4);
    expect(valueOf(w, 'livequeue_api_call_duration_seconds_count', stop)).toBe(3);
    expect(valueOf(w, 'livequeue_api_call_duration_seconds_bucket', { ...forbid, le: '0.005' })).toBe(0);
    expect(valueOf(w, 'livequeue_api_call_duration_seconds_sum', forbid)).toBeGreaterThan(0.005 * (bans.length + 4));
    // Outcomes.
    expect(valueOf(w, 'livequeue_jobs_applied_total', forbid)).toBe(PLAIN_BANS + 3);
    expect(valueOf(w, 'livequeue_jobs_applied_total', stop)).toBe(2);
    expect(valueOf(w, 'livequeue_jobs_already_applied_total', { ...forbid, code: 'ConfigAlreadyExists' })).toBe(1);
    expect(valueOf(w, 'livequeue_jobs_dead_lettered_total', { ...stop, code: 'StreamMonitorNotExist' })).toBe(1);
    expect(sumOf(w, 'livequeue_jobs_dead_lettered_total', forbid)).toBe(0);
    expect(valueOf(w, 'livequeue_job_retries_total', { ...forbid, code: 'InternalError' })).toBe(1);
    expect(valueOf(w, 'livequeue_job_retries_total', { ...forbid, code: 'Throttling.User' })).toBe(3);
    expect(valueOf(w, 'livequeue_throttles_total', forbid)).toBe(3);
    expect(valueOf(w, 'livequeue_throttles_total', stop)).toBe(0);
    // Every call waited for a slot; every job's way from enqueue to its outcome is timed.
    expect(valueOf(w, 'livequeue_slot_wait_seconds_count', forbid)).toBeGreaterThanOrEqual(bans.length + 2);
    expect(valueOf(w, 'livequeue_job_duration_seconds_count', { ...forbid, outcome: 'applied' })).toBe(PLAIN_BANS + 3);
    expect(valueOf(w, 'livequeue_job_duration_seconds_count', { ...stop, outcome: 'dead-lettered' })).toBe(1);
    expect(valueOf(w, 'livequeue_job_duration_seconds_sum', { ...forbid, outcome: 'applied' })).toBeGreaterThan(0.3 * (PLAIN_BANS + 3));
    expect(valueOf(w, 'livequeue_missed_slots_total', forbid)).toBeDefined();
    // Node's process metrics come along.
    expect(valueOf(w, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    // Shared state, the same on both endpoints: nothing left queued, one dead letter, the buckets.
    const s = await scrape(`${server.url}/metrics`);
    for (const samples of [w, s]) {
      expect(valueOf(samples, 'livequeue_redis_up')).toBe(1);
      for (const operation of ['ForbidLiveStream', 'StopLiveStreamMonitor']) {
        for (const state of ['waiting', 'delayed', 'active']) expect(valueOf(samples, 'livequeue_queue_jobs', { operation, state })).toBe(0);
      }
      expect(valueOf(samples, 'livequeue_dead_letter_jobs', stop)).toBe(1);
      expect(valueOf(samples, 'livequeue_dead_letter_jobs', forbid)).toBe(0);
      expect(valueOf(samples, 'livequeue_bucket_configured_rate', forbid)).toBe(20);
      expect(valueOf(samples, 'livequeue_bucket_configured_rate', stop)).toBe(10);
      // The throttle cut the ban bucket's rate, which climbs back 5% of the quota a second.
      expect(valueOf(samples, 'livequeue_bucket_rate', forbid)).toBeLessThan(20);
      expect(valueOf(samples, 'livequeue_bucket_rate', forbid)).toBeGreaterThanOrEqual(0.7 * 20);
      expect(valueOf(samples, 'livequeue_bucket_rate', stop)).toBe(10);
      expect(valueOf(samples, 'livequeue_bucket_tokens', stop)).toBeGreaterThan(0);
      expect(valueOf(samples, 'livequeue_bucket_blocked_seconds', stop)).toBe(0);
    }
    // The HTTP server runs no workers, so it has no call counters of its own.
    expect(s.some((x) => x.name.startsWith('livequeue_api_calls'))).toBe(false);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    // The metrics server closed with the worker.
    await expect(fetch(metricsUrl)).rejects.toThrow();
  });
});

describe('bucket tokens', () => {
  it('are the slots a worker could reserve now: a full horizon when idle, none while booked or held back', () => {
    const settings = defaultBucketSettings(20, 15); // 50.75 ms apart, 101.5 ms horizon
    const state = { configuredRate: 20, publishedByWorkers: true, currentRate: 20, backlogMs: 0, blockedMs: 0 };
    expect(availableSlots(state, settings)).toBe(3);
    expect(availableSlots({ ...state, backlogMs: 60 }, settings)).toBe(1);
    expect(availableSlots({ ...state, backlogMs: 120 }, settings)).toBe(0);
    expect(availableSlots({ ...state, blockedMs: 5_000 }, settings)).toBe(0);
    // A throttled (slower) bucket spaces its slots further apart: fewer fit in the horizon.
    expect(availableSlots({ ...state, currentRate: 10 }, settings)).toBe(2);
  });
});
