import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    // The tests that start the `livequeue` command run the compiled one (dist/): rebuilt first when a source is newer.
    globalSetup: ['test/helpers/compiled-cli.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites share one Redis (each under its own key prefix), and pacing tests
    // measure timing, so files run one at a time on a 2-core machine.
    fileParallelism: false,
    // No test has real credentials: keep the credentials library's default
    // chain from asking the cloud metadata address, which is not loopback.
    env: { ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true' },
  },
});
