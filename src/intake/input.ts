import type { Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import { OPERATION_INFO, type Operation } from '../catalog/operations.ts';
import type { InputFormat } from './input-formats.ts';
import { LivequeueError } from '../errors.ts';

/**
 * Reads enqueue input files one record at a time (a million lines are never
 * held in memory). Every record keeps its line number so that problems can be
 * reported precisely; a line that cannot even be read as a record comes back
 * with an error instead of params, and reading goes on.
 */
export { formatFromPath, INPUT_FORMATS, type InputFormat } from './input-formats.ts';

export interface InputRecord {
  line: number;
  params?: Record<string, unknown>;
  error?: string;
}

/** Longest line accepted; longer ones are reported, not parsed (nor held: the rest of such a line is skipped as it is read). */
export const MAX_LINE_BYTES = 64 * 1024;

/** The whole input is unusable (not one bad record): nothing was enqueued. */
export class InputFileError extends LivequeueError {
  constructor(message: string) {
    super('input-file', message);
  }
}

/** Field names that show a CSV's first line is a header: those naming what the operation is about. */
const SUBJECT_FIELDS = { stream: ['DomainName', 'AppName', 'StreamName'], monitor: ['MonitorId'] } as const;
const csvHeaderFields = (operation: Operation): readonly string[] => SUBJECT_FIELDS[OPERATION_INFO[operation].subject];

export function readRecords(input: Readable, format: InputFormat, operation: Operation): AsyncGenerator<InputRecord> {
  if (format === 'csv') return readCsv(input, operation);
  if (format === 'jsonl') return readJsonLines(input);
  return readPlainLines(input, operation);
}

const TOO_LONG = `line is longer than ${MAX_LINE_BYTES} bytes`;

/**
 * The input's lines, split on \n (a \r before it is dropped). A line longer
 * than MAX_LINE_BYTES comes back as `tooLong` and its bytes are dropped as
 * they arrive, so one huge line never fills the memory.
 */
async function* lines(input: Readable): AsyncGenerator<{ line: number; text: string; tooLong?: boolean }> {
  let line = 0;
  let parts: Buffer[] = [];
  let length = 0;
  let tooLong = false;
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const finish = (rest: Buffer) => {
    line++;
    if (tooLong) return { line, text: '', tooLong: true };
    let text = decoder.decode(Buffer.concat([...parts, rest]));
    if (text.endsWith('\r')) text = text.slice(0, -1);
    return { line, text: line === 1 ? text.replace(/^\uFEFF/, '') : text };
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    let buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (let newline = buffer.indexOf(10); newline !== -1; newline = buffer.indexOf(10)) {
      yield finish(buffer.subarray(0, newline));
      parts = [];
      length = 0;
      tooLong = false;
      buffer = buffer.subarray(newline + 1);
    }
    if (!tooLong && length + buffer.length > MAX_LINE_BYTES) {
      tooLong = true;
      parts = [];
    }
    if (!tooLong) {
      parts.push(Buffer.from(buffer));
      length += buffer.length;
    }
  }
  if (length > 0 || tooLong) yield finish(Buffer.alloc(0));
}

function checkLine(text: string): string | undefined {
  if (Buffer.byteLength(text) > MAX_LINE_BYTES) return TOO_LONG;
  if (text.includes('\uFFFD')) return 'line is not valid UTF-8';
  return undefined;
}

async function* readJsonLines(input: Readable): AsyncGenerator<InputRecord> {
  let first = true;
  for await (const { line, text, tooLong } of lines(input)) {
    if (tooLong) {
      first = false;
      yield { line, error: TOO_LONG };
      continue;
    }
    if (text.trim() === '') continue;
    // A JSON array (a .json export) read line by line would enqueue some records and reject others: refuse it whole.
    if (first && text.trimStart().startsWith('[')) {
      throw new InputFileError('the input is a JSON array; give one JSON object per line (JSON Lines), e.g. `jq -c \'.[]\' file.json`; nothing was enqueued');
    }
    first = false;
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
  if (OPERATION_INFO[operation].subject !== 'monitor') throw new Error(`plain text input holds MonitorIds: use it with ${monitorSlugs()}`);
  for await (const { line, text, tooLong } of lines(input)) {
    if (tooLong) {
      yield { line, error: TOO_LONG };
      continue;
    }
    const value = text.trim();
    if (value === '' || value.startsWith('#')) continue;
    const problem = checkLine(text);
    yield problem ? { line, error: problem } : { line, params: { MonitorId: value } };
  }
}

async function* readCsv(input: Readable, operation: Operation): AsyncGenerator<InputRecord> {
  const expected = csvHeaderFields(operation);
  const parser = input.pipe(
    parseCsv({
      columns: (header: string[]) => {
        const names = header.map((h) => h.trim());
        if (!names.some((name) => expected.includes(name))) {
          parser.destroy(new InputFileError(`the first line of a CSV file must be its header naming the fields (e.g. ${expected.join(',')}); got "${names.join(',').slice(0, 200)}"; nothing was enqueued`));
        }
        return names;
      },
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
    if (error instanceof InputFileError) throw error;
    // csv-parse stops at malformed quoting or an oversized record; report where.
    const err = error as { message: string; lines?: number };
    yield { line: err.lines ?? 0, error: `CSV cannot be read past this line: ${err.message}` };
  }
}

/** The operations plain-text input fits, as the CLI names them. */
export function monitorSlugs(): string {
  return Object.values(OPERATION_INFO).filter((info) => info.subject === 'monitor').map((info) => info.slug).join(' or ');
}
