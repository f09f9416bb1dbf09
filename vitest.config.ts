import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites share one Redis; each uses its own key prefix, but CPU-heavy pacing
    // tests measure timing, so files run one at a time on a 2-core machine.
    fileParallelism: false,
  },
});
