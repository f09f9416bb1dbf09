import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BLOCKS, README, renderAll, staleBlocks, withBlocks, type Block } from '../docs/references.ts';
import { REDIS_URL } from './helpers/redis.ts';

/**
 * The README's reference blocks (commands, configuration, metrics, HTTP
 * routes) are what docs/references.ts renders from the code, its quick start
 * is the two lines CI runs, and every link to one of its own headings lands.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(README, 'utf8');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
const anchor = (heading: string) => heading.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');

/** Headings outside code blocks. */
function headings(text: string): { level: number; title: string }[] {
  const found: { level: number; title: string }[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const match = /^(#{1,6}) (.+)$/.exec(line);
    if (!fenced && match) found.push({ level: match[1]!.length, title: match[2]! });
  }
  return found;
}

describe('README.md', () => {
  let rendered: Record<Block, string>;
  beforeAll(async () => {
    process.env.REDIS_URL ??= REDIS_URL;
    rendered = await renderAll();
  });

  it('keeps the quick start as the two lines CI runs', () => {
    const quickStart = readme.slice(readme.indexOf('\n## Quick start\n'), readme.indexOf('\n## What it promises\n'));
    expect(quickStart).toContain('\n```sh\nnpm ci && npx livequeue demo\nnpm test\n```\n');
  });

  it('has each generated block once, as docs/references.ts renders it from the code (npm run docs)', () => {
    for (const block of BLOCKS) {
      expect(readme.split(`<!-- generated:${block} -->`).length - 1, block).toBe(1);
      expect(readme.split(`<!-- /generated:${block} -->`).length - 1, block).toBe(1);
    }
    // Block by block, so that a failure shows the difference.
    const expected = withBlocks(readme, rendered);
    for (const block of BLOCKS) {
      const between = (text: string) => text.slice(text.indexOf(`<!-- generated:${block} -->`), text.indexOf(`<!-- /generated:${block} -->`));
      expect(between(readme), `the generated:${block} block; run npm run docs`).toBe(between(expected));
    }
    expect(staleBlocks(readme, rendered)).toEqual([]);
  });

  it('the generator in check mode passes, and names a block that differs', () => {
    const check = spawnSync(process.execPath, ['--import', 'tsx', 'docs/references.ts', '--check'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, REDIS_URL: process.env.REDIS_URL ?? REDIS_URL }, timeout: 60_000 });
    expect(check.status, check.stderr).toBe(0);
    const edited = readme.replace('| `REDIS_URL` |', '| `REDIS_URI` |');
    expect(staleBlocks(edited, rendered)).toEqual(['env']);
  });

  it('lists every ## section in its table of contents, and every link to a heading lands on one', () => {
    const all = headings(readme);
    const anchors = new Set(all.map((h) => anchor(h.title)));
    const sections = all.filter((h) => h.level === 2).map((h) => `- [${h.title}](#${anchor(h.title)})`);
    expect(readme).toContain(`\n${sections.join('\n')}\n`);
    const links = [...readme.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
    expect(links.filter((link) => !anchors.has(link))).toEqual([]);
  });

  it('points at the design notes in docs/, which exist', () => {
    for (const doc of ['docs/pacing.md', 'docs/benchmarks.md', 'docs/holds.md']) {
      expect(readme).toContain(`(${doc})`);
      expect(readFileSync(`${ROOT}${doc}`, 'utf8')).toMatch(/^# /);
    }
  });
});
