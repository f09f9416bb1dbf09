/** One line of the results table: a measure for the baseline and for livequeue, side by side. */
export interface ResultRow {
  scenario: string;
  measure: string;
  /** Stock BullMQ, fixed-window limiter. */
  baseline: number | null;
  /** Stock BullMQ, evenly spacing limiter; absent where it does not apply. */
  spaced?: number | null;
  livequeue: number;
  unit: string;
  /** Human-readable target, e.g. ">= 0.98". */
  target: string;
  met: boolean;
  note?: string;
  /** Where the figure comes from; absent on rows measured before the bench wrote it. */
  measured?: Provenance;
}

/** The commit a row was measured on (`+changes` when the work tree had uncommitted changes), and the day. */
export interface Provenance {
  commit: string;
  date: string;
}

export function ratio(livequeue: number, baseline: number | null): number | null {
  return baseline === null || baseline === 0 || !Number.isFinite(baseline) ? null : livequeue / baseline;
}

export const round = (n: number, digits = 3) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);

/**
 * The share of the quota a paced drain must reach. The ceiling at the
 * default PACING_MARGIN_MS (20 ms) is 1000 / 1020 ≈ 0.980; a missed slot or
 * two in a run must not fail the goal.
 */
export const QUOTA_SHARE_GOAL = 0.975;
export const QUOTA_SHARE_TARGET = `>= ${QUOTA_SHARE_GOAL}`;
