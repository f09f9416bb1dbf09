import { readFileSync } from 'node:fs';

let version: string | undefined;

/**
 * The version in livequeue's package.json: the nearest one up from this file
 * (src/ when run from source, dist/src/ compiled), read once.
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
