import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * A registry per server rather than prom-client's global one, so a worker and
 * an HTTP server in one process (or several in one test run) never mix their
 * metrics. Node's process metrics (CPU, memory, event-loop lag) come with it.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
