import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { InputFileError, readRecords, MAX_LINE_BYTES } from '../src/intake/input.ts';
import { parseParams } from '../src/jobs/schemas.ts';
import { selectedRuntime } from '../src/app/runtime.ts';
import { deleteKeys, newRedis, testConfig, uniquePrefix } from './helpers/redis.ts';

/**
 * Bad input of every shape: each invalid record is rejected with a reason
 * that names a field, every valid one is enqueued, nothing invalid reaches
 * Redis, and nothing throws.
 */
const redis = newRedis();
const prefix = uniquePrefix('property');
const runtime = selectedRuntime(redis, testConfig(prefix));
const { producer, intake } = runtime;
afterAll(async () => {
  await runtime.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const FIELDS = ['DomainName', 'AppName', 'StreamName', 'LiveStreamType', 'Oneshot', 'ResumeTime', 'RegionId', 'MonitorId'];
const value = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('demo.aliyundoc.com', 'liveApp', 'publisher', 'yes', 'no', '2030-01-01T00:00:00Z', 'cn-shanghai', '445409ec-7eaa-461d-8f29-4bec2eb9a1b2'),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string()),
  fc.object(),
);
const record = fc.oneof(
  fc.dictionary(fc.constantFrom(...FIELDS), value),
  fc.dictionary(fc.string(), value),
  fc.anything(),
);

/** Every stored job of the queue, parsed again: nothing invalid may be there. */
async function storedJobsAreValid(operation: 'ForbidLiveStream' | 'StopLiveStreamMonitor'): Promise<boolean> {
  const jobs = await producer.queue(operation).getJobs(['prioritized', 'wait']);
  return jobs.every((job) => parseParams(operation, job.data).ok);
}

describe('producer under arbitrary records', () => {
  it.each(['ForbidLiveStream', 'StopLiveStreamMonitor'] as const)('%s: valid ones enqueued, invalid ones explained, none stored', async (operation) => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 20 }), async (records) => {
        const results = await intake.add(operation, records.map((params) => ({ params })));
        expect(results).toHaveLength(records.length);
        results.forEach((result, i) => {
          const parsed = parseParams(operation, records[i]);
          if (result.status === 'invalid') {
            expect(parsed.ok).toBe(false);
            expect(result.errors.length).toBeGreaterThan(0);
            for (const error of result.errors) {
              expect(error.field.length).toBeGreaterThan(0);
              expect(error.message).toMatch(/\S/);
            }
          } else {
            expect(parsed.ok).toBe(true);
          }
        });
      }),
      { numRuns: 60 },
    );
    expect(await storedJobsAreValid(operation)).toBe(true);
  });
});

async function summarize(input: Buffer | string, format: 'jsonl' | 'csv' | 'text', operation: 'ForbidLiveStream' | 'StopLiveStreamMonitor') {
  // A batch per operation: a batch holds one operation's jobs.
  return intake.enqueueStream(operation, readRecords(Readable.from([Buffer.from(input)]), format, operation), `property-${operation}`, { priority: 'normal', chunkSize: 7, by: { actor: 'test' } });
}

describe('file parser under arbitrary lines', () => {
  const line = fc.oneof(
    fc.string(),
    fc.string({ unit: 'grapheme' }),
    record.map((r) => { try { return JSON.stringify(r) ?? ''; } catch { return ''; } }),
    fc.constantFrom('{"DomainName":"demo.aliyundoc.com","AppName":"a","StreamName":"s1"}', '445409ec-7eaa-461d-8f29-4bec2eb9a1b2', '{', '[]', 'null', ',,,', '"'),
  ).map((l) => l.replace(/[\r\n]/g, ' '));

  it.each([
    ['jsonl', 'ForbidLiveStream'],
    ['csv', 'ForbidLiveStream'],
    ['text', 'StopLiveStreamMonitor'],
    ['jsonl', 'StopLiveStreamMonitor'],
  ] as const)('%s for %s: every line accounted for, with its number when invalid', async (format, operation) => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 25 }), async (lines) => {
        const header = format === 'csv' ? ['DomainName,AppName,StreamName,Oneshot'] : [];
        const text = [...header, ...lines].join('\n');
        // A JSON array is refused whole, before anything is enqueued.
        if (format === 'jsonl' && lines.find((l) => l.trim() !== '')?.trimStart().startsWith('[')) {
          await expect(summarize(text, format, operation)).rejects.toThrow(InputFileError);
          return;
        }
        const summary = await summarize(text, format, operation);
        expect(summary.enqueued + summary.duplicates + summary.invalid.length).toBe(summary.read);
        // Every line of the input is a record (blank lines and, in plain text, # comments aside).
        // CSV quoting may join lines, so there the reader's own count is all there is.
        if (format !== 'csv') expect(summary.read).toBe(lines.filter((l) => l.trim() !== '' && !(format === 'text' && l.trim().startsWith('#'))).length);
        const lineCount = header.length + lines.length;
        for (const invalid of summary.invalid) {
          expect(invalid.line).toBeGreaterThanOrEqual(1);
          expect(invalid.line).toBeLessThanOrEqual(Math.max(lineCount, 1));
          expect(invalid.errors[0]!.message).toMatch(/\S/);
        }
      }),
      { numRuns: 40 },
    );
    expect(await storedJobsAreValid(operation)).toBe(true);
  });

  it('reports a huge line and a line that is not UTF-8, and goes on with the rest', async () => {
    const good = '{"DomainName":"demo.aliyundoc.com","AppName":"a","StreamName":"after-bad-lines"}';
    const huge = `{"DomainName":"${'x'.repeat(MAX_LINE_BYTES + 10)}"}`;
    const latin1 = Buffer.from([0x7b, 0x22, 0x41, 0xff, 0xfe, 0x22, 0x7d]);
    const input = Buffer.concat([Buffer.from(`${huge}\n`), latin1, Buffer.from(`\n${good}\n`)]);
    const summary = await summarize(input, 'jsonl', 'ForbidLiveStream');
    expect(summary.invalid).toEqual([
      { line: 1, errors: [{ field: '(line)', message: `line is longer than ${MAX_LINE_BYTES} bytes` }] },
      { line: 2, errors: [{ field: '(line)', message: 'line is not valid UTF-8' }] },
    ]);
    expect(summary.enqueued).toBe(1);
  });

  it('caps a huge line while reading it: its bytes are dropped as they arrive', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x78);
    const before = process.memoryUsage();
    let peak = 0;
    // The reader pulls chunk after chunk; memory is sampled while the line is still being read.
    async function* input() {
      yield Buffer.from('{"DomainName":"');
      for (let i = 0; i < 200; i++) {
        yield chunk;
        const now = process.memoryUsage();
        peak = Math.max(peak, now.heapUsed + now.arrayBuffers - before.heapUsed - before.arrayBuffers);
      }
      yield Buffer.from('"}\n{"DomainName":"demo.aliyundoc.com","AppName":"a","StreamName":"after-huge"}\n');
    }
    const records = [];
    for await (const r of readRecords(Readable.from(input()), 'jsonl', 'ForbidLiveStream')) records.push(r);
    expect(records).toEqual([{ line: 1, error: `line is longer than ${MAX_LINE_BYTES} bytes` }, { line: 2, params: { DomainName: 'demo.aliyundoc.com', AppName: 'a', StreamName: 'after-huge' } }]);
    // A 200 MB line held whole would show here; dropped as it arrives, it never does.
    expect(peak).toBeLessThan(64 * 1024 * 1024);
  });

  it('reads no record from a CSV with a header only (the CLI refuses it), and reports a CSV row with the wrong number of fields', async () => {
    expect(await summarize('DomainName,AppName,StreamName\n', 'csv', 'ForbidLiveStream')).toEqual({ read: 0, enqueued: 0, duplicates: 0, invalid: [], blacklistBans: 0 });
    const summary = await summarize('DomainName,AppName,StreamName\ndemo.aliyundoc.com,a\ndemo.aliyundoc.com,a,csv-ok\n', 'csv', 'ForbidLiveStream');
    expect(summary.invalid).toEqual([{ line: 2, errors: [{ field: '(line)', message: 'row has a different number of fields than the header' }] }]);
    expect(summary.enqueued).toBe(1);
  });
});
