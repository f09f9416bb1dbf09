/**
 * The largest number of timestamps (ms, ascending) inside any rolling window
 * of `windowMs`: what a server counting in a strict rolling window sees.
 */
export function maxInAnyWindow(sortedTimes: readonly number[], windowMs = 1000): number {
  let best = 0;
  let first = 0;
  for (let last = 0; last < sortedTimes.length; last++) {
    while (sortedTimes[first]! <= sortedTimes[last]! - windowMs) first++;
    best = Math.max(best, last - first + 1);
  }
  return best;
}
