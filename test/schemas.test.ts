import { describe, expect, it } from 'vitest';
import { parseParams } from '../src/jobs/schemas.ts';

const ban = { DomainName: 'demo.aliyundoc.com', AppName: 'liveApp', StreamName: 'liveStream' };

describe('job schemas', () => {
  it('accepts every parameter of the ForbidLiveStream page and defaults LiveStreamType', () => {
    expect(parseParams('ForbidLiveStream', { ...ban, RegionId: 'cn-shanghai', Oneshot: 'yes', ResumeTime: '2035-12-01T10:37:00Z' })).toEqual({
      ok: true,
      value: { ...ban, RegionId: 'cn-shanghai', Oneshot: 'yes', ResumeTime: '2035-12-01T10:37:00Z', LiveStreamType: 'publisher' },
    });
  });

  it('takes a ResumeTime from a minute ago (clocks differ) up to ten years ahead, and nothing else', () => {
    const at = (ms: number) => new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(parseParams('ForbidLiveStream', { ...ban, ResumeTime: at(-30_000) }).ok).toBe(true);
    expect(parseParams('ForbidLiveStream', { ...ban, ResumeTime: at(9 * 365 * 86_400_000) }).ok).toBe(true);
    for (const past of ['1970-01-01T00:00:00Z', '0000-01-01T00:00:00Z', at(-120_000)]) {
      expect(parseParams('ForbidLiveStream', { ...ban, ResumeTime: past })).toEqual({ ok: false, errors: [{ field: 'ResumeTime', message: 'ResumeTime must be in the future: a ban that ends at once does nothing' }] });
    }
    expect(parseParams('ForbidLiveStream', { ...ban, ResumeTime: '9999-12-31T23:59:59Z' })).toEqual({
      ok: false,
      errors: [{ field: 'ResumeTime', message: "ResumeTime must be at most 10 years ahead (leave it out for the API's default six months)" }],
    });
  });

  it.each([
    [{ ResumeTime: '2015-12-01 10:37:00' }, 'ResumeTime', 'ResumeTime must be yyyy-MM-ddTHH:mm:ssZ in UTC'],
    [{ ResumeTime: '2015-02-30T10:37:00Z' }, 'ResumeTime', 'ResumeTime must be yyyy-MM-ddTHH:mm:ssZ in UTC'],
    [{ ResumeTime: '2015-12-01T10:37:00+08:00' }, 'ResumeTime', 'ResumeTime must be yyyy-MM-ddTHH:mm:ssZ in UTC'],
    [{ LiveStreamType: 'player' }, 'LiveStreamType', 'LiveStreamType must be "publisher"'],
    [{ Oneshot: 'true' }, 'Oneshot', 'Oneshot must be "yes" or "no"'],
    [{ DomainName: 'not a domain' }, 'DomainName', 'DomainName must be an ingest domain name, e.g. demo.aliyundoc.com'],
    [{ StreamName: '' }, 'StreamName', 'StreamName must not be empty'],
    [{ AppName: 7 }, 'AppName', 'AppName is required and must be a string'],
    [{ Streamname: 'typo' }, 'Streamname', 'unknown field(s) Streamname'],
  ])('rejects %o naming %s', (change, field, message) => {
    expect(parseParams('ForbidLiveStream', { ...ban, ...change })).toEqual({ ok: false, errors: [{ field, message }] });
  });

  it('requires a UUID MonitorId', () => {
    expect(parseParams('StopLiveStreamMonitor', { MonitorId: '445409ec-7eaa-461d-8f29-4bec2eb9****' })).toEqual({
      ok: false,
      errors: [{ field: 'MonitorId', message: 'MonitorId must be a UUID' }],
    });
    expect(parseParams('StopLiveStreamMonitor', { MonitorId: '445409ec-7eaa-461d-8f29-4bec2eb9a1b2', RegionId: 'cn-shanghai' }).ok).toBe(true);
  });

  it('rejects a record that is not an object', () => {
    expect(parseParams('StopLiveStreamMonitor', ['x'])).toMatchObject({ ok: false, errors: [{ message: 'a record must be an object of API parameters' }] });
  });
});
