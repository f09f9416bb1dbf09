/**
 * The input formats and how a file's name picks one: what the command line
 * offers, without the readers (and the CSV parser) behind them.
 */
export const INPUT_FORMATS = ['jsonl', 'csv', 'text'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export function formatFromPath(path: string): InputFormat | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson') || lower.endsWith('.json')) return 'jsonl';
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.txt')) return 'text';
  return undefined;
}
