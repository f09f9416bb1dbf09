import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import type { Operation } from '../live/operations.ts';

/**
 * Reads enqueue input files one record at a time (a million lines are never
 * held in memory). Every record keeps its line number so that problems can be
 * reported precisely; a line that cannot even be read as a record comes back
 * with an error instead of params, and reading goes on.
 */
export const INPUT_FORMATS = ['jsonl', 'csv', 'text'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export interface InputRecord {
  line: number;
  params?: Record<string, unknown>;
  error?: string;
}

/** Longest line accepted; longer ones are reported, not parsed. */
export const MAX_LINE_BYTES = 64 * 1024;

export function formatFromPath(path: string): InputFormat | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson') || lower.endsWith('.json')) return 'jsonl';
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.txt')) return 'text';
  return undefined;
}

export function readRecords(input: Readable, format: InputFormat, operation: Operation): AsyncGenerator<InputRecord> {
  if (format === 'csv') return readCsv(input);
  if (format === 'jsonl') return readJsonLines(input);
  return readPlainLines(input, operation);
}

async function* lines(input: Readable): AsyncGenerator<{ line: number; text: string }> {
  input.setEncoding('utf8');
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    line++;
    yield { line, text: line === 1 ? text.replace(/^\uFEFF/, '') : text };
  }
}

function checkLine(text: string): string | undefined {
  if (Buffer.byteLength(text) > MAX_LINE_BYTES) return `line is longer than ${MAX_LINE_BYTES} bytes`;
  if (text.includes('\uFFFD')) return 'line is not valid UTF-8';
  return undefined;
}

async function* readJsonLines(input: Readable): AsyncGenerator<InputRecord> {
  for await (const { line, text } of lines(input)) {
    if (text.trim() === '') continue;
    const problem = checkLine(text);
    if (problem) {
      yield { line, error: problem };
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      yield { line, error: `line is not valid JSON (${(error as Error).message})` };
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      yield { line, error: 'line must be a JSON object of API parameters' };
      continue;
    }
    yield { line, params: value as Record<string, unknown> };
  }
}

/** One MonitorId per line; the plain-text form of stop-monitor input. */
async function* readPlainLines(input: Readable, operation: Operation): AsyncGenerator<InputRecord> {
  if (operation !== 'StopLiveStreamMonitor') throw new Error('plain text input holds MonitorIds: use it with stop-monitor');
  for await (const { line, text } of lines(input)) {
    const value = text.trim();
    if (value === '' || value.startsWith('#')) continue;
    const problem = checkLine(text);
    yield problem ? { line, error: problem } : { line, params: { MonitorId: value } };
  }
}

async function* readCsv(input: Readable): AsyncGenerator<InputRecord> {
  const parser = input.pipe(
    parseCsv({
      columns: (header: string[]) => header.map((h) => h.trim()),
      bom: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
      max_record_size: MAX_LINE_BYTES,
      // A short or long row is reported for that row, not fatal for the file.
      relax_column_count: true,
    }),
  );
  // csv-parse counts rows with the wrong number of fields cumulatively; a row is bad when the count moves.
  let badRows = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number; invalid_field_length: number } }>) {
      const line = info.lines;
      if (info.invalid_field_length > badRows) {
        badRows = info.invalid_field_length;
        yield { line, error: 'row has a different number of fields than the header' };
        continue;
      }
      const params: Record<string, unknown> = {};
      // Empty cells mean "not given", so defaults and optional fields apply.
      for (const [key, value] of Object.entries(record)) if (value !== '') params[key] = value;
      const problem = Object.values(record).map(checkLine).find(Boolean);
      yield problem ? { line, error: problem } : { line, params };
    }
  } catch (error) {
    // csv-parse stops at malformed quoting or an oversized record; report where.
    const err = error as { message: string; lines?: number };
    yield { line: err.lines ?? 0, error: `CSV cannot be read past this line: ${err.message}` };
  }
}
