import { collectDefaultMetrics, Registry } from 'prom-client';
import { registerBuildInfo } from './build-info.ts';

/**
 * A registry per server rather than prom-client's global one, so a worker and
 * an HTTP server in one process (or several in one test run) never mix their
 * metrics. Node's process metrics (CPU, memory, event-loop lag) and
 * livequeue_build_info come with it.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry);
  return registry;
}
