/**
 * The import structure of src/: file cycles, folders importing each other,
 * imports against the layer order (bench/lib/import-graph.ts), long files and
 * functions. `npx tsx bench/import-graph.ts [--json]`.
 */
import { analyseImports, formatReport, SRC_DIR } from './lib/import-graph.ts';

const report = analyseImports(SRC_DIR);
if (process.argv.includes('--json')) {
  const { files: _files, edges: _edges, ...rest } = report;
  process.stdout.write(`${JSON.stringify(rest, null, 2)}\n`);
} else {
  process.stdout.write(`${formatReport(report)}\n`);
}
