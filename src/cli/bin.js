#!/usr/bin/env node
// The `livequeue` command. TypeScript runs directly through tsx's loader,
// so the command works right after `npm ci`, with no build step.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
