import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, EXIT_CODES, HTTP_STATUS, LivequeueError } from '../src/errors.ts';
import { CancelAllNotConfirmedError, UnknownBatchError } from '../src/batches/batches.ts';
import { RedisUnavailableError } from '../src/redis.ts';

describe('the table of error codes', () => {
  it('keeps the --json codes scripts read: the class name in kebab case', () => {
    for (const [code, info] of Object.entries(ERRORS)) {
      expect(code).toBe(info.name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase());
    }
  });

  it('exits 3 only when Redis is out of reach, 2 for the rest', () => {
    for (const info of Object.values(ERRORS)) expect(EXIT_CODES[info.kind], info.name).toBe(info.name === 'RedisUnavailableError' ? 3 : 2);
  });

  it('gives each error its code, kind, name and HTTP answer', () => {
    const unknown = new UnknownBatchError('b');
    expect(unknown).toBeInstanceOf(LivequeueError);
    expect(unknown).toMatchObject({ name: 'UnknownBatchError', code: 'unknown-batch', kind: 'not-found', httpError: 'not-found' });
    expect(HTTP_STATUS[unknown.kind]).toBe(404);
    const notConfirmed = new CancelAllNotConfirmedError(3, undefined);
    expect(HTTP_STATUS[notConfirmed.kind]).toBe(409);
    expect(notConfirmed.httpMessage).toContain('"confirm": 3');
    expect(notConfirmed.httpFields).toEqual({ pending: 3 });
    const redis = new RedisUnavailableError('redis://10.0.0.1:6379', new Error('ECONNREFUSED'));
    expect([redis.httpError, HTTP_STATUS[redis.kind], redis.httpMessage]).toEqual(['redis-unavailable', 503, 'Redis is not reachable; try again shortly']);
  });

  it('is a leaf, so `livequeue --help` can load it', () => {
    expect(readFileSync(new URL('../src/errors.ts', import.meta.url), 'utf8')).not.toMatch(/^\s*(import|export .* from)\b/m);
  });
});
