import { readFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';

let version: string | undefined;

/**
 * The version in livequeue's package.json: the nearest one up from this file
 * (src/metrics, or dist/src/metrics once compiled), read once per process.
 */
export function packageVersion(): string {
  return (version ??= findPackageVersion());
}

function findPackageVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'livequeue' && pkg.version) return pkg.version;
    } catch {
      // No package.json here (or not ours): look further up.
    }
    if (dir.pathname === '/') return 'unknown';
  }
}

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
