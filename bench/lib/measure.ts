import { maxInAnyWindow, type CallRecord } from '../../src/sim/index.ts';

export interface PacingFigures {
  calls: number;
  ok: number;
  throttled: number;
  /** Successful calls per second from the first call to the last successful one. */
  okPerSecond: number;
  throttledShare: number;
  maxPerSecond: number;
}

export function pacing(calls: readonly CallRecord[]): PacingFigures {
  const sorted = [...calls].sort((a, b) => a.at - b.at);
  const ok = sorted.filter((c) => c.code === 'OK');
  const throttled = sorted.filter((c) => c.code.includes('Throttling')).length;
  const span = ok.length > 1 ? (ok.at(-1)!.at - sorted[0]!.at) / 1000 : Number.NaN;
  return {
    calls: sorted.length,
    ok: ok.length,
    throttled,
    // n calls spaced 1/QPS apart span (n-1)/QPS seconds.
    okPerSecond: (ok.length - 1) / span,
    throttledShare: sorted.length > 0 ? throttled / sorted.length : 0,
    maxPerSecond: maxInAnyWindow(sorted.map((c) => c.at)),
  };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
