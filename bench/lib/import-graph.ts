import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';

/**
 * The import structure of src/, read from the sources alone (no outside tool):
 * file cycles, folders that import each other, and imports that go against the
 * intended layer order. Shared by `bench/import-graph.ts` (the report) and
 * test/import-graph.test.ts (the ratchet).
 */

/**
 * The intended layers, outermost first: a node may import its own layer or any
 * layer after it, never one before it. A node is a folder under src/, or a file
 * directly in src/ by its name without `.ts` (`config`, `redis`).
 */
export const LAYERS: readonly { name: string; nodes: readonly string[] }[] = [
  // How people and programs reach livequeue.
  { name: 'faces', nodes: ['cli', 'http', 'index'] },
  // Wiring one process: an account's parts, the worker process, the simulator.
  { name: 'app', nodes: ['app', 'sim'] },
  // What livequeue does: take work in, run a job, count and report.
  { name: 'use cases', nodes: ['intake', 'worker', 'metrics', 'webhooks'] },
  // The state each use case reads and writes in Redis.
  { name: 'services', nodes: ['batches', 'holds', 'ledger', 'blacklist', 'ratelimit'] },
  // Redis, BullMQ, the Alibaba Cloud API, the process and its log.
  { name: 'adapters', nodes: ['queue', 'live', 'redis', 'redis-policy', 'local-redis', 'eviction-warning', 'log', 'signals', 'process-identity', 'redis-scripts'] },
  // Plain data and rules: the operation catalog, job records, accounts, settings.
  { name: 'domain', nodes: ['catalog', 'jobs', 'account', 'config'] },
  // Leaves any layer may use: they import nothing of ours.
  { name: 'leaves', nodes: ['errors', 'redact', 'package-version'] },
];

export interface Edge {
  /** Paths relative to src/, with `/`. */
  from: string;
  to: string;
  /** `import type`, `export type`, all-`type` specifiers, or `typeof import(...)`: gone after compiling. */
  typeOnly: boolean;
  dynamic: boolean;
}

export interface FolderEdge {
  from: string;
  to: string;
  /** The file imports behind it. */
  edges: Edge[];
}

export interface ImportReport {
  files: string[];
  edges: Edge[];
  /** Strongly connected components of more than one file, value and type imports alike. */
  fileCycles: string[][];
  /** The same, counting value imports only (what runs at load time). */
  valueFileCycles: string[][];
  /** Folder pairs [a, b] (a < b) where a imports b and b imports a. */
  mutualFolders: { pair: [string, string]; edges: Edge[] }[];
  /** Folder edges from a later layer to an earlier one. */
  upwardArrows: FolderEdge[];
  /** Nodes missing from LAYERS: each counts as a problem of its own. */
  unlayered: string[];
  longFiles: { file: string; lines: number }[];
  longFunctions: { file: string; name: string; line: number; lines: number }[];
}

const LONG_FILE_LINES = 250;
const LONG_FUNCTION_LINES = 60;

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Comment lines dropped (JSDoc examples name imports too); code lines kept as they are. */
function codeOf(text: string): string {
  return text
    .split('\n')
    .map((line) => (/^\s*(\/\/|\/\*|\*)/.test(line) ? '' : line))
    .join('\n');
}

const STATIC = /^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/gm;
const BARE = /^\s*import\s+['"]([^'"]+)['"]/gm;
const DYNAMIC = /(typeof\s+)?\bimport\(\s*['"]([^'"]+)['"]\s*\)(\.[A-Z])?/g;

/** The relative imports of one file's text: specifier and kind. */
export function importsOf(text: string): { specifier: string; typeOnly: boolean; dynamic: boolean }[] {
  const code = codeOf(text);
  const out: { specifier: string; typeOnly: boolean; dynamic: boolean }[] = [];
  for (const m of code.matchAll(STATIC)) {
    const clause = m[3] ?? '';
    const named = /^\{([\s\S]*)\}$/.exec(clause.trim());
    const allTypeNamed = named !== null && named[1]!.split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '));
    out.push({ specifier: m[4]!, typeOnly: m[2] !== undefined || allTypeNamed, dynamic: false });
  }
  for (const m of code.matchAll(BARE)) out.push({ specifier: m[1]!, typeOnly: false, dynamic: false });
  for (const m of code.matchAll(DYNAMIC)) out.push({ specifier: m[2]!, typeOnly: m[1] !== undefined || m[3] !== undefined, dynamic: true });
  return out.filter((i) => i.specifier.startsWith('.'));
}

/** `app/runtime.ts` -> `app`; `config.ts` -> `config`. */
export function nodeOf(file: string): string {
  const slash = file.indexOf('/');
  return slash === -1 ? file.replace(/\.ts$/, '') : file.slice(0, slash);
}

export function layerOf(node: string): number {
  return LAYERS.findIndex((layer) => layer.nodes.includes(node));
}

/** Tarjan's strongly connected components, those of more than one node, each sorted. */
function cycles(nodes: string[], next: Map<string, Set<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** Functions (declarations, arrow consts, methods) longer than the limit, by brace counting: an estimate. */
function longFunctionsOf(file: string, text: string): ImportReport['longFunctions'] {
  const lines = text.split('\n');
  const out: ImportReport['longFunctions'] = [];
  const start =
    /^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\*?\s+(\w+)|^\s*(?:export\s+)?(?:const|let)\s+(\w+)\s*=\s*(?:async\s+)?(?:\([^)]*\)|\w+)\s*(?::[^=]+)?=>\s*\{\s*$|^\s+(?:(?:public|private|protected|static|readonly|override|async)\s+)*(\w+)\s*\([^;]*\)\s*(?::[^={;]+)?\{\s*$/;
  for (let i = 0; i < lines.length; i++) {
    const m = start.exec(lines[i]!);
    if (!m) continue;
    const name = m[1] ?? m[2] ?? m[3]!;
    if (['if', 'for', 'while', 'switch', 'catch', 'return'].includes(name)) continue;
    let depth = 0;
    let opened = false;
    let end = i;
    for (let j = i; j < lines.length; j++) {
      const line = lines[j]!.replace(/(['"`])(?:\\.|(?!\1).)*\1/g, '').replace(/\/\/.*$/, '');
      for (const ch of line) {
        if (ch === '{') {
          depth++;
          opened = true;
        } else if (ch === '}') depth--;
      }
      end = j;
      if (opened && depth <= 0) break;
    }
    const length = end - i + 1;
    if (length > LONG_FUNCTION_LINES) out.push({ file, name, line: i + 1, lines: length });
  }
  return out;
}

/** Reads every .ts file under `srcDir` and measures its import structure. */
export function analyseImports(srcDir: string): ImportReport {
  const toRel = (path: string) => relative(srcDir, path).split(sep).join('/');
  const files = listTs(srcDir).map(toRel).sort();
  const known = new Set(files);
  const edges: Edge[] = [];
  const longFiles: ImportReport['longFiles'] = [];
  const longFunctions: ImportReport['longFunctions'] = [];
  for (const file of files) {
    const text = readFileSync(join(srcDir, file), 'utf8');
    const lineCount = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lineCount > LONG_FILE_LINES) longFiles.push({ file, lines: lineCount });
    longFunctions.push(...longFunctionsOf(file, text));
    const seen = new Map<string, Edge>();
    for (const i of importsOf(text)) {
      const to = posix.normalize(posix.join(posix.dirname(file), i.specifier)).replace(/\.js$/, '.ts');
      if (!known.has(to) || to === file) continue;
      const before = seen.get(to);
      // One edge per file pair: a value import outweighs a type import, a static one a dynamic one.
      if (before) {
        before.typeOnly &&= i.typeOnly;
        before.dynamic &&= i.dynamic;
      } else {
        const edge = { from: file, to, typeOnly: i.typeOnly, dynamic: i.dynamic };
        seen.set(to, edge);
        edges.push(edge);
      }
    }
  }

  const graph = (which: Edge[]) => {
    const next = new Map<string, Set<string>>();
    for (const e of which) {
      if (!next.has(e.from)) next.set(e.from, new Set());
      next.get(e.from)!.add(e.to);
    }
    return next;
  };
  const fileCycles = cycles(files, graph(edges));
  const valueFileCycles = cycles(files, graph(edges.filter((e) => !e.typeOnly)));

  const folderEdges = new Map<string, FolderEdge>();
  for (const e of edges) {
    const from = nodeOf(e.from);
    const to = nodeOf(e.to);
    if (from === to) continue;
    const key = `${from}\0${to}`;
    if (!folderEdges.has(key)) folderEdges.set(key, { from, to, edges: [] });
    folderEdges.get(key)!.edges.push(e);
  }
  const mutualFolders: ImportReport['mutualFolders'] = [];
  for (const fe of folderEdges.values()) {
    const back = folderEdges.get(`${fe.to}\0${fe.from}`);
    if (back && fe.from < fe.to) mutualFolders.push({ pair: [fe.from, fe.to], edges: [...fe.edges, ...back.edges] });
  }
  mutualFolders.sort((a, b) => a.pair.join().localeCompare(b.pair.join()));

  const nodes = [...new Set(files.map(nodeOf))].sort();
  const unlayered = nodes.filter((n) => layerOf(n) === -1);
  const upwardArrows = [...folderEdges.values()]
    .filter((fe) => layerOf(fe.from) !== -1 && layerOf(fe.to) !== -1 && layerOf(fe.from) > layerOf(fe.to))
    .sort((a, b) => `${a.from}>${a.to}`.localeCompare(`${b.from}>${b.to}`));

  return {
    files,
    edges,
    fileCycles,
    valueFileCycles,
    mutualFolders,
    upwardArrows,
    unlayered,
    longFiles: longFiles.sort((a, b) => b.lines - a.lines),
    longFunctions: longFunctions.sort((a, b) => b.lines - a.lines),
  };
}

export const describeEdge = (e: Edge) => `${e.from} -> ${e.to}${e.typeOnly ? ' (type)' : ''}${e.dynamic ? ' (dynamic)' : ''}`;

/** The report as text, each finding with the file imports behind it. */
export function formatReport(r: ImportReport): string {
  const out: string[] = [];
  const typeEdges = r.edges.filter((e) => e.typeOnly).length;
  out.push(`${r.files.length} files, ${r.edges.length} relative imports (${typeEdges} type-only, ${r.edges.filter((e) => e.dynamic && !e.typeOnly).length} dynamic)`);
  out.push('', `File cycles: ${r.fileCycles.length} (${r.valueFileCycles.length} without type-only imports)`);
  const inCycle = (component: string[]) => r.edges.filter((e) => component.includes(e.from) && component.includes(e.to));
  for (const c of r.fileCycles) {
    out.push(`  [${c.length}] ${c.join(', ')}`);
    for (const e of inCycle(c)) out.push(`      ${describeEdge(e)}`);
  }
  out.push('', `Folders importing each other: ${r.mutualFolders.length}`);
  for (const m of r.mutualFolders) {
    const onlyTypes = m.edges.every((e) => e.typeOnly);
    out.push(`  ${m.pair[0]} <-> ${m.pair[1]}${onlyTypes ? ' (type-only)' : ''}`);
    for (const e of m.edges) out.push(`      ${describeEdge(e)}`);
  }
  out.push('', `Layers: ${LAYERS.map((l) => `${l.name} (${l.nodes.join(', ')})`).join(' -> ')}`);
  if (r.unlayered.length > 0) out.push(`  not in any layer: ${r.unlayered.join(', ')}`);
  out.push(`Upward arrows: ${r.upwardArrows.length}`);
  for (const u of r.upwardArrows) {
    out.push(`  ${u.from} (${LAYERS[layerOf(u.from)]!.name}) -> ${u.to} (${LAYERS[layerOf(u.to)]!.name})${u.edges.every((e) => e.typeOnly) ? ' (type-only)' : ''}`);
    for (const e of u.edges) out.push(`      ${describeEdge(e)}`);
  }
  out.push('', `Files over ${LONG_FILE_LINES} lines: ${r.longFiles.length}`);
  for (const f of r.longFiles) out.push(`  ${String(f.lines).padStart(5)}  ${f.file}`);
  out.push('', `Functions over ${LONG_FUNCTION_LINES} lines (estimated by braces): ${r.longFunctions.length}`);
  for (const f of r.longFunctions) out.push(`  ${String(f.lines).padStart(5)}  ${f.file}:${f.line} ${f.name}`);
  return out.join('\n');
}

/** src/ of this repository, from bench/lib/. */
export const SRC_DIR = join(dirname(new URL(import.meta.url).pathname), '..', '..', 'src');
