#!/usr/bin/env node
// The `livequeue` command: the compiled JavaScript in dist/, which `npm ci`
// builds in a checkout (the `prepare` script) and a published package ships.
import { existsSync } from 'node:fs';
import module from 'node:module';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('livequeue: dist/ is not built; run `npm run build` (or `npm ci`) in the livequeue directory first\n');
  process.exit(1);
}
// Node 22.1+: keep the compiled code of the modules a command loads in the
// system's temporary directory, so the next start skips most of the parsing.
module.enableCompileCache?.();
await import(main.href);
