/** The largest number of timestamps (ms) that fall inside any window of `windowMs`. */
export function maxInAnyWindow(sortedTimes: readonly number[], windowMs: number): number {
  let max = 0;
  let start = 0;
  for (let end = 0; end < sortedTimes.length; end++) {
    while (sortedTimes[end]! - sortedTimes[start]! >= windowMs) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}
