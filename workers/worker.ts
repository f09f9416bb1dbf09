/**
 * Worker process entry point (containers run this). Configuration comes from
 * the environment; see the README's configuration table.
 */
import { ConfigError, loadConfig } from '../src/config.ts';
import { runWorkers } from '../src/app/worker-process.ts';

try {
  await runWorkers(loadConfig(process.env));
  process.exit(0);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`livequeue: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
