import { describe, expect, it } from 'vitest';
import { analyseImports, describeEdge, importsOf, SRC_DIR } from '../bench/lib/import-graph.ts';

/**
 * The import structure of src/ (report: `npx tsx bench/import-graph.ts`):
 * no file cycle, no two folders importing each other, no import against the
 * layer order (README, "Layout"), no long file or function.
 */
const LIMITS = { fileCycles: 0, mutualFolders: 0, upwardArrows: 0 };

describe('import structure of src/', () => {
  const report = analyseImports(SRC_DIR);

  it('has no more file cycles than before', () => {
    const found = report.fileCycles.map((c) => `[${c.join(', ')}]: ${report.edges.filter((e) => c.includes(e.from) && c.includes(e.to)).map(describeEdge).join('; ')}`);
    expect(report.fileCycles.length, `file cycles:\n${found.join('\n')}`).toBeLessThanOrEqual(LIMITS.fileCycles);
  });

  it('has no more folders importing each other than before', () => {
    const found = report.mutualFolders.map((m) => `${m.pair.join(' <-> ')}: ${m.edges.map(describeEdge).join('; ')}`);
    expect(report.mutualFolders.length, `folders importing each other:\n${found.join('\n')}`).toBeLessThanOrEqual(LIMITS.mutualFolders);
  });

  it('has no more imports against the layer order than before, and every folder in a layer', () => {
    const found = report.upwardArrows.map((u) => `${u.from} -> ${u.to}: ${u.edges.map(describeEdge).join('; ')}`);
    expect(report.upwardArrows.length, `upward arrows:\n${found.join('\n')}`).toBeLessThanOrEqual(LIMITS.upwardArrows);
    expect(report.unlayered, 'folders or root files missing from LAYERS in bench/lib/import-graph.ts').toEqual([]);
  });

  it('has no file over 250 lines and no function over 60 lines', () => {
    expect(report.longFiles.map((f) => `${f.file}: ${f.lines}`), 'files over 250 lines').toEqual([]);
    expect(report.longFunctions.map((f) => `${f.file}:${f.line} ${f.name}: ${f.lines}`), 'functions over 60 lines').toEqual([]);
  });

  it('reads static, re-exported, side-effect, dynamic and type-only imports', () => {
    const text = [
      "import { a } from './a.ts';",
      "import type { B } from '../b.ts';",
      "import { type C, type D } from './c.ts';",
      "import { e, type E } from './e.ts';",
      "export { f } from './f.ts';",
      "export type { G } from './g.ts';",
      "import './h.ts';",
      "const i = await import('./i.ts');",
      "let j: typeof import('./j.ts') | undefined;",
      "type K = import('./k.ts').K;",
      "import { pino } from 'pino';",
      " * import { l } from './l.ts';",
    ].join('\n');
    expect(importsOf(text).map((i) => `${i.specifier}${i.typeOnly ? ' type' : ''}${i.dynamic ? ' dynamic' : ''}`).sort()).toEqual([
      '../b.ts type',
      './a.ts',
      './c.ts type',
      './e.ts',
      './f.ts',
      './g.ts type',
      './h.ts',
      './i.ts dynamic',
      './j.ts type dynamic',
      './k.ts type dynamic',
    ]);
  });
});
