import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { redactUrl } from '../src/redact.ts';
import { minimumRetryWindowMs, retryDelayMs } from '../src/worker/backoff.ts';
import { classifyFailure } from '../src/catalog/error-codes.ts';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config.accounts).toEqual([{ name: 'default', qps: { ForbidLiveStream: 20, StopLiveStreamMonitor: 10, ResumeLiveStream: 30 }, region: 'cn-shanghai', domains: [] }]);
    expect(config.account).toBe('default');
    expect(config.live.endpoint).toBe('live.aliyuncs.com');
    expect(config.redis).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379', tls: false });
  });

  it('reads a cluster or a Sentinel setup, with a password that no error repeats', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'r1:7000,10.0.0.2:7001', QUEUE_PREFIX: '{lq}', REDIS_PASSWORD: 'pw', REDIS_TLS: '1' }).redis).toEqual({
      mode: 'cluster', nodes: [{ host: 'r1', port: 7000 }, { host: '10.0.0.2', port: 7001 }], password: 'pw', tls: true,
    });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_MASTER: 'mymaster' }).redis).toMatchObject({ mode: 'sentinel', masterName: 'mymaster', tls: false });
    expect(() => loadConfig({ REDIS_SENTINELS: 's1:26379' })).toThrow('REDIS_SENTINELS needs REDIS_SENTINEL_MASTER');
    expect(() => loadConfig({ REDIS_URL: 'redis://x:6379', REDIS_CLUSTER_NODES: 'r1:7000' })).toThrow('set one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS');
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'r1' })).toThrow('REDIS_CLUSTER_NODES must be host:port pairs');
  });

  it('refuses a cluster setup whose scripts would span slots, or that puts every account on one shard', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'r1:7000' })).toThrow('on Redis Cluster every account\'s keys need a hash tag, and account "default" under QUEUE_PREFIX "livequeue" has none: set QUEUE_PREFIX={livequeue}');
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'r1:7000', LIVE_ACCOUNT: 'main' }).account).toBe('main');
    const file = join(mkdtempSync(join(tmpdir(), 'lq-cfg-')), 'accounts.json');
    writeFileSync(file, JSON.stringify({ accounts: [{ name: 'a', profile: 'a' }, { name: 'b', profile: 'b' }] }));
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'r1:7000', QUEUE_PREFIX: '{lq}', LIVEQUEUE_ACCOUNTS_FILE: file })).toThrow('all 2 accounts would share one cluster slot');
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'r1:7000', LIVEQUEUE_ACCOUNTS_FILE: file }).accounts).toHaveLength(2);
  });

  it('lets flags override the environment', () => {
    expect(loadConfig({ FORBID_QPS: '20' }, { FORBID_QPS: '50' }).accounts[0]!.qps.ForbidLiveStream).toBe(50);
  });

  it.each([
    ['FORBID_QPS', 'abc', 'FORBID_QPS must be a number'],
    ['STOP_MONITOR_QPS', '0', 'STOP_MONITOR_QPS must be a number greater than 0'],
    ['WORKER_CONCURRENCY', '2.5', 'WORKER_CONCURRENCY must be a whole number'],
    ['REDIS_URL', 'localhost:6379', 'REDIS_URL must be a redis:// or rediss:// URL'],
    ['LIVE_ENDPOINT', 'ftp://x', 'LIVE_ENDPOINT must be a host name or http(s)://host:port'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL must be one of'],
  ])('rejects a bad %s with one line naming it', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});

describe('retry schedule', () => {
  const schedule = loadConfig({}).retry;

  it('grows exponentially with jitter in the upper half, capped', () => {
    expect(retryDelayMs(schedule, 1, 0, () => 0)).toBe(500);
    expect(retryDelayMs(schedule, 1, 0, () => 1)).toBe(1000);
    expect(retryDelayMs(schedule, 4, 0, () => 1)).toBe(8000);
    expect(retryDelayMs(schedule, 30, 0, () => 1)).toBe(schedule.maxDelayMs);
  });

  it('treats the server hint as a floor', () => {
    expect(retryDelayMs(schedule, 1, 5000, () => 0)).toBe(5000);
  });

  it('rides out at least 30 minutes of outage by default before dead-lettering', () => {
    expect(minimumRetryWindowMs(schedule)).toBeGreaterThanOrEqual(30 * 60_000);
  });
});

describe('error-code table', () => {
  it.each([
    // The service: counts toward the systemic hold, never a dead letter.
    [{ code: 'InternalError', httpStatus: 500, network: false }, 'systemic', false],
    [{ code: 'ServiceUnavailable', httpStatus: 503, network: false }, 'systemic', false],
    [{ code: 'GatewayTimeout', httpStatus: 504, network: false }, 'systemic', false],
    [{ code: 'NetworkError', network: true }, 'systemic', false],
    [{ code: 'HTTP503', httpStatus: 503, network: false, bodyNotJson: true }, 'systemic', false],
    [{ code: 'HTTP403', httpStatus: 403, network: false, bodyNotJson: true }, 'systemic', false],
    [{ code: 'SomethingNew', httpStatus: 409, network: false }, 'systemic', false],
    [{ code: 'InvalidAction.NotFound', httpStatus: 404, network: false }, 'systemic', false],
    [{ code: 'InvalidVersion', httpStatus: 400, network: false }, 'systemic', false],
    // Throttling and plain retries.
    [{ code: 'Throttling.User', httpStatus: 400, network: false }, 'retry', true],
    [{ code: 'Throttling', httpStatus: 503, network: false }, 'retry', true],
    [{ code: 'TooManyRequests', httpStatus: 429, network: false }, 'retry', true],
    [{ code: 'HTTP429', httpStatus: 429, network: false, bodyNotJson: true }, 'retry', true],
    [{ code: 'RequestTimeout', httpStatus: 408, network: false }, 'retry', false],
    [{ code: 'SignatureNonceUsed', httpStatus: 400, network: false }, 'retry', false],
    // The job.
    [{ code: 'ConfigAlreadyExists', httpStatus: 400, network: false }, 'already-applied', false],
    [{ code: 'StreamMonitorAlreadyStop', httpStatus: 400, network: false }, 'already-applied', false],
    [{ code: 'StreamMonitorNotExist', httpStatus: 404, network: false }, 'dead-letter', false],
    [{ code: 'InvalidResumeTime.Malformed', httpStatus: 400, network: false }, 'dead-letter', false],
    [{ code: 'InvalidMonitorId.Malformed', httpStatus: 400, network: false }, 'dead-letter', false],
    [{ code: 'InvalidStreamName.Malformed', httpStatus: 400, network: false }, 'dead-letter', false],
    [{ code: 'MissingParameter', httpStatus: 400, network: false }, 'dead-letter', false],
    [{ code: 'InvalidParameter', httpStatus: 400, network: false }, 'dead-letter', false],
    [{ code: 'InvalidDomain.NotFound', httpStatus: 404, network: false, requestId: 'r' }, 'dead-letter', false],
    [{ code: 'AppInfoNotExist', httpStatus: 404, network: false, requestId: 'r' }, 'dead-letter', false],
    // A code nobody listed, answered by the API about this request: the job's, on its attempts.
    [{ code: 'Domain.NotOwned', httpStatus: 404, network: false, requestId: 'r' }, 'refused', false],
    // The host: its own credentials, signature, clock.
    [{ code: 'SignatureDoesNotMatch', httpStatus: 400, network: false }, 'hold-host', false],
    [{ code: 'InvalidAccessKeyId.NotFound', httpStatus: 404, network: false }, 'hold-host', false],
    [{ code: 'InvalidTimeStamp.Expired', httpStatus: 400, network: false }, 'hold-host', false],
    [{ code: 'InvalidTimeStamp.Format', httpStatus: 400, network: false }, 'hold-host', false],
    [{ code: 'MissingSecurityToken', httpStatus: 400, network: false }, 'hold-host', false],
    [{ code: 'InvalidSecurityToken.Expired', httpStatus: 400, network: false }, 'hold-host', false],
    [{ code: 'CredentialsUnavailable', network: false }, 'hold-host', false],
    // The account.
    [{ code: 'QuotaExceeded.Blacklist', httpStatus: 400, network: false }, 'hold-blacklist', false],
    [{ code: 'Forbidden', httpStatus: 403, network: false }, 'hold-account', false],
    [{ code: 'Forbidden.RAM', httpStatus: 403, network: false }, 'hold-account', false],
    [{ code: 'IllegalOperation', httpStatus: 401, network: false }, 'hold-account', false],
    [{ code: 'UserQuotaExceed', httpStatus: 403, network: false }, 'hold-account', false],
    [{ code: 'InvalidUserId.Malformed', httpStatus: 400, network: false }, 'hold-account', false],
  ])('%o -> %s', (failure, outcome, throttled) => {
    expect(classifyFailure(failure)).toMatchObject({ outcome, throttled });
  });

  it('names the kind of account hold and what to look at', () => {
    expect(classifyFailure({ code: 'InvalidTimeStamp.Expired', httpStatus: 400, network: false })).toMatchObject({ holdReason: 'credentials', hint: expect.stringContaining('clock') });
    expect(classifyFailure({ code: 'UserQuotaExceed', httpStatus: 403, network: false })).toMatchObject({ holdReason: 'account' });
  });
});

describe('secrets in settings', () => {
  it.each([
    ['http://:PW-secret-1@127.0.0.1:6379', 'PW-secret-1'],
    ['redis://:pa/ss-secret-2@127.0.0.1:6379', 'ss-secret-2'],
  ])('a bad REDIS_URL is refused without echoing its password (%#)', (url, secret) => {
    let message = '';
    try {
      loadConfig({ REDIS_URL: url });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(message).not.toContain(secret);
    expect(message).toContain('***@127.0.0.1:6379');
  });

  it('hides a password holding / or @ whole', () => {
    expect(redactUrl('redis://:a/b@c@host:6379/0')).toBe('redis://***@host:6379/0');
    expect(redactUrl('rediss://user:pw@host')).toBe('rediss://***@host');
    expect(redactUrl('redis://user:p@ss-secret@127.0.0.1:6379')).toBe('redis://***@127.0.0.1:6379');
    expect(redactUrl('redis://host:6379')).toBe('redis://host:6379');
  });

  it('refuses an API token with whitespace, without echoing it', () => {
    expect(() => loadConfig({ LIVEQUEUE_API_TOKEN: ' '.repeat(16) })).toThrow('LIVEQUEUE_API_TOKEN must not contain whitespace');
    expect(() => loadConfig({ LIVEQUEUE_API_TOKEN: 'abcdefgh ijklmnopq' })).toThrow(/^LIVEQUEUE_API_TOKEN must not contain whitespace$/);
  });
});
