import { Gauge, type Registry } from 'prom-client';
import { packageVersion } from '../package-version.ts';

/** `livequeue_build_info{version, node} 1`: which release (and Node) each scraped process runs, e.g. mid-rollout. */
export function registerBuildInfo(registry: Registry): void {
  const gauge = new Gauge({
    name: 'livequeue_build_info',
    help: 'Always 1; labelled with the livequeue version (package.json) and the Node.js version of this process',
    labelNames: ['version', 'node'],
    registers: [registry],
  });
  gauge.set({ version: packageVersion(), node: process.versions.node }, 1);
}
