import type { FieldError } from '../jobs/schemas.ts';
import type { BlacklistWarning } from '../blacklist/headroom.ts';

/** One record the intake refused: where it came from (`line 4`, a target on the command line) and why. */
export interface Refused {
  at: string;
  errors: readonly FieldError[];
}

/** What one enqueue did, as `enqueue`, `ban` and `lift` print it. */
export interface EnqueueReport {
  batch: string;
  enqueued: number;
  duplicates: number;
  refused: readonly Refused[];
  warning?: BlacklistWarning;
  /** Fields the --json answer adds after the counts (`invalidLines`, `invalidTargets`). */
  jsonExtra: Record<string, unknown>;
  /** Lines the plain answer adds after the batch line (a ban's end). */
  notes?: readonly string[];
}

/**
 * Prints the summary (one JSON object with --json) and sets the exit code:
 * 1 when some records were refused, the others having gone through all the same.
 */
export function reportEnqueued(report: EnqueueReport, json: boolean | undefined): void {
  const { batch, enqueued, duplicates, refused, warning } = report;
  // A warning, not a refusal: the bans are enqueued and wait for room.
  if (warning) process.stderr.write(`livequeue: warning: ${warning.message}\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify({ batch, enqueued, duplicates, invalid: refused.length, ...report.jsonExtra, ...(warning ? { blacklistWarning: warning } : {}) })}\n`);
  } else {
    const lines = [
      `batch: ${batch} (livequeue batch show ${batch}; livequeue batch cancel ${batch})`,
      ...(report.notes ?? []),
      `enqueued: ${enqueued}`,
      `duplicates skipped (already pending): ${duplicates}`,
      `invalid: ${refused.length}`,
      ...refused.map((r) => `  ${r.at}: ${r.errors.map((e) => e.message).join('; ')}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  process.exitCode = refused.length > 0 ? 1 : 0;
}
