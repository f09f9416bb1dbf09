/**
 * The README's reference blocks, rendered from the code itself: the commands
 * from the commander program, the configuration from the environment schema,
 * the metrics from the registries the worker and the HTTP server fill, the
 * HTTP routes from the OpenAPI document. Each block sits between
 * `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` in README.md.
 *
 *   npx tsx docs/references.ts           print the blocks
 *   npx tsx docs/references.ts --write   rewrite them in README.md (npm run docs)
 *   npx tsx docs/references.ts --check   exit 1 naming each block README.md has out of date
 *
 * The metrics and HTTP blocks build the HTTP server against Redis (REDIS_URL,
 * default redis://127.0.0.1:6379); nothing is written to it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command, Option } from 'commander';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { buildProgram } from '../src/cli/program.ts';
import { loadConfig } from '../src/config.ts';
import { envSchema } from '../src/config/env.ts';
import { buildHttpServer } from '../src/http/server.ts';
import { createLogger } from '../src/log.ts';
import { registerQueueGauges } from '../src/metrics/queue-gauges.ts';
import { createRegistry } from '../src/metrics/registry.ts';
import { PrometheusWorkerObserver } from '../src/metrics/worker-observer.ts';
import { producerConnection, waitUntilReady, type RedisClient } from '../src/redis.ts';

export const README = fileURLToPath(new URL('../README.md', import.meta.url));
export const BLOCKS = ['cli', 'env', 'metrics', 'http'] as const;
export type Block = (typeof BLOCKS)[number];

/** A table cell: one line, pipes escaped. */
const cell = (text: string) => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
const code = (text: string) => `\`${text}\``;

// ---- cli ---------------------------------------------------------------

/** Options every act takes (enqueue, ban, cancel, undo, replay, ...): described once. */
const ACT_FLAGS = ['--reason <text>', '--ticket <id>', '--actor <name>'];

function describeOption(option: Option): string {
  const extras = [
    option.argChoices ? `one of ${option.argChoices.join(', ')}` : undefined,
    option.defaultValue !== undefined && option.defaultValue !== false ? `default ${String(option.defaultValue)}` : undefined,
  ].filter(Boolean);
  return `${option.description}${extras.length > 0 ? ` (${extras.join('; ')})` : ''}`;
}

function renderCommand(command: Command, path: string): string[] {
  const args = command.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`));
  const lines = [`- ${code([path, ...args].join(' '))}: ${command.description()}`];
  for (const arg of command.registeredArguments) if (arg.description) lines.push(`  - ${code(arg.name())}: ${arg.description}`);
  const flags = command.options.map((o) => o.flags);
  const acts = ACT_FLAGS.every((f) => flags.includes(f));
  for (const option of command.options) {
    if (acts && ACT_FLAGS.includes(option.flags)) continue;
    lines.push(`  - ${code(option.flags)}: ${describeOption(option)}`);
  }
  if (acts) lines.push(`  - ${ACT_FLAGS.map(code).join(', ')}: the act's record in the audit trail`);
  return lines;
}

function walkCommands(command: Command, path: string): string[] {
  return command.commands.flatMap((sub) => {
    const subPath = `${path} ${sub.name()}`;
    // A group (enqueue, dlq, batch, ...) is its subcommands.
    return sub.commands.length > 0 ? walkCommands(sub, subPath) : renderCommand(sub, subPath);
  });
}

export function renderCli(): string {
  const program = buildProgram();
  const global = program.options.filter((o) => o.long !== '--version');
  const acts = walkCommands(program, 'livequeue');
  const someAct = program.commands.flatMap((c) => [c, ...c.commands]).find((c) => c.options.some((o) => o.flags === ACT_FLAGS[0]));
  const actOptions = someAct ? someAct.options.filter((o) => ACT_FLAGS.includes(o.flags)) : [];
  return [
    'Every command takes these, each overriding its environment variable:',
    '',
    ...global.map((o) => `- ${code(o.flags)}: ${describeOption(o)}`),
    '',
    'Every act takes these, kept with it in the audit trail:',
    '',
    ...actOptions.map((o) => `- ${code(o.flags)}: ${describeOption(o)}`),
    '',
    'The commands:',
    '',
    ...acts,
  ].join('\n');
}

// ---- env ---------------------------------------------------------------

type ZodInternals = { _zod: { def: { type: string; innerType?: ZodInternals; in?: ZodInternals; error?: unknown; checks?: ZodInternals[] } } };

/** The schema under .default(), .optional() and a transform's pipe. */
function innermost(schema: ZodInternals): ZodInternals {
  const { innerType, in: input } = schema._zod.def;
  return innerType ? innermost(innerType) : input ? innermost(input) : schema;
}

const messageOf = (error: unknown) => (typeof error === 'function' ? (error as (issue: object) => unknown)({}) : error);

/** The rule as its error messages tell it (`FOO must be a whole number`, ...), else as the JSON Schema has it. */
function ruleOf(name: string, schema: ZodInternals, json: Record<string, unknown>): string {
  const inner = innermost(schema);
  const messages = (inner._zod.def.checks ?? []).map((c) => messageOf(c._zod.def.error)).filter((m): m is string => typeof m === 'string');
  if (messages.length === 0 && inner._zod.def.type === 'enum' && typeof messageOf(inner._zod.def.error) === 'string') messages.push(messageOf(inner._zod.def.error) as string);
  if (messages.length === 0 && json.minLength === 1) messages.push(`${name} must not be empty`);
  if (messages.length === 0 && Array.isArray(json.enum)) messages.push(`${name} must be one of ${json.enum.join(', ')}`);
  if (messages.length === 0) return json.type === 'string' ? 'text' : String(json.type);
  const rules = messages.map((m) => m.replace(new RegExp(`^${name} `), ''));
  // "must be a whole number, greater than 0, at most 1000" rather than "must be" each time.
  return rules.map((r, i) => (i > 0 && r.startsWith('must be ') && rules[i - 1]!.startsWith('must be ') ? r.slice('must be '.length) : r)).join(', ');
}

export function renderEnv(): string {
  const json = z.toJSONSchema(envSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, Record<string, unknown>> };
  const rows = Object.entries(envSchema.shape).map(([name, schema]) => {
    const property = json.properties[name]!;
    const fallback = 'default' in property ? code(String(property.default)) : '(none)';
    return `| ${code(name)} | ${fallback} | ${cell(ruleOf(name, schema as unknown as ZodInternals, property))} | ${cell(schema.description ?? '')} |`;
  });
  return ['| variable | default | rule | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

// ---- metrics and http: the HTTP server, built against Redis ---------------

interface Built {
  redis: RedisClient;
  workerRegistry: Registry;
  serverRegistries: Registry[];
  document: OpenApiDocument;
  close(): Promise<void>;
}

interface OpenApiOperation {
  summary?: string;
  security?: Record<string, string[]>[];
}
interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

/**
 * The worker's metrics (registered as `livequeue worker` does, on a fresh
 * registry) and the HTTP server's (the registries it fills while it is
 * built), and the server's OpenAPI document.
 */
async function build(): Promise<Built> {
  const config = loadConfig({ REDIS_URL: process.env.REDIS_URL, QUEUE_PREFIX: 'livequeue-references', LOG_LEVEL: 'silent' });
  const log = createLogger('silent');
  const redis = producerConnection(config.redis);
  redis.on('error', () => {});
  await waitUntilReady(redis, config.redis);
  const workerRegistry = createRegistry();
  new PrometheusWorkerObserver(workerRegistry);
  registerQueueGauges(workerRegistry, redis, [], log);
  const serverRegistries: Registry[] = [];
  const register = Registry.prototype.registerMetric;
  Registry.prototype.registerMetric = function (this: Registry, ...args: Parameters<typeof register>) {
    if (!serverRegistries.includes(this)) serverRegistries.push(this);
    return register.apply(this, args);
  };
  try {
    const app = await buildHttpServer({ config, redis, log });
    await app.ready();
    const document = app.swagger() as unknown as OpenApiDocument;
    return { redis, workerRegistry, serverRegistries, document, close: async () => { await app.close(); await deleteOwnKeys(redis, config.prefix); redis.disconnect(); } };
  } finally {
    Registry.prototype.registerMetric = register;
  }
}

/** Building the server registers its queues in Redis; a generator leaves nothing behind. */
async function deleteOwnKeys(redis: Built['redis'], prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

interface MetricRow {
  name: string;
  type: string;
  labels: string[];
  help: string;
  from: Set<string>;
}

type RegisteredMetric = { name: string; help: string; labelNames?: readonly string[]; constructor: { name: string } };

export function renderMetrics({ workerRegistry, serverRegistries }: Pick<Built, 'workerRegistry' | 'serverRegistries'>): string {
  const rows = new Map<string, MetricRow>();
  const add = (registry: Registry, from: string) => {
    for (const metric of registry.getMetricsAsArray() as unknown as RegisteredMetric[]) {
      if (!metric.name.startsWith('livequeue_')) continue;
      const row = rows.get(metric.name) ?? { name: metric.name, type: metric.constructor.name.toLowerCase(), labels: [...(metric.labelNames ?? [])], help: metric.help, from: new Set() };
      row.from.add(from);
      rows.set(metric.name, row);
    }
  };
  add(workerRegistry, 'worker');
  for (const registry of serverRegistries) add(registry, 'serve');
  const lines = [...rows.values()].map((r) =>
    `| ${code(r.name)} | ${r.type} | ${r.labels.map(code).join(', ')} | ${r.from.size === 2 ? 'both' : [...r.from][0]} | ${cell(r.help)} |`,
  );
  return ['| metric | type | labels | exported by | meaning |', '|---|---|---|---|---|', ...lines].join('\n');
}

const ACCOUNT_PATH = '/v1/accounts/{account}';

export function renderHttp({ document }: Pick<Built, 'document'>): string {
  const rows: string[] = [];
  const paths = Object.keys(document.paths);
  for (const path of paths) {
    // A route under /v1/accounts/{account}/ that /v1/ also has is the same route for another account.
    if (path.startsWith(`${ACCOUNT_PATH}/`) && paths.includes(`/v1${path.slice(ACCOUNT_PATH.length)}`)) continue;
    for (const [method, operation] of Object.entries(document.paths[path]!)) {
      const scopes = operation.security?.[0]?.bearer;
      const scope = scopes === undefined ? 'none' : scopes.length > 1 ? 'all' : scopes.map(code).join(', ');
      rows.push(`| ${method.toUpperCase()} | ${code(path)} | ${scope} | ${cell(operation.summary ?? '')} |`);
    }
  }
  return ['| method | path | scope | what it does |', '|---|---|---|---|', ...rows].join('\n');
}

// ---- the README's blocks -------------------------------------------------

export async function renderAll(): Promise<Record<Block, string>> {
  const built = await build();
  try {
    return { cli: renderCli(), env: renderEnv(), metrics: renderMetrics(built), http: renderHttp(built) };
  } finally {
    await built.close();
  }
}

const markers = (block: Block) => [`<!-- generated:${block} -->`, `<!-- /generated:${block} -->`] as const;

/** The README with each block's content replaced; a block whose markers are missing is an error. */
export function withBlocks(readme: string, blocks: Record<Block, string>): string {
  let text = readme;
  for (const block of BLOCKS) {
    const [open, close] = markers(block);
    const start = text.indexOf(open);
    const end = text.indexOf(close);
    if (start < 0 || end < start || text.indexOf(open, start + 1) >= 0) throw new Error(`README.md needs ${open} … ${close} once, in that order`);
    text = `${text.slice(0, start + open.length)}\n${blocks[block]}\n${text.slice(end)}`;
  }
  return text;
}

/** The blocks README.md has out of date. */
export function staleBlocks(readme: string, blocks: Record<Block, string>): Block[] {
  return BLOCKS.filter((block) => {
    const [open, close] = markers(block);
    const start = readme.indexOf(open);
    return start < 0 || readme.slice(start + open.length, readme.indexOf(close)) !== `\n${blocks[block]}\n`;
  });
}

async function main(argv: string[]): Promise<number> {
  const blocks = await renderAll();
  const readme = readFileSync(README, 'utf8');
  if (argv.includes('--write')) {
    writeFileSync(README, withBlocks(readme, blocks));
    return 0;
  }
  if (argv.includes('--check')) {
    const stale = staleBlocks(readme, blocks);
    for (const block of stale) process.stderr.write(`README.md: the generated:${block} block is out of date; run npm run docs\n`);
    return stale.length > 0 ? 1 : 0;
  }
  for (const block of BLOCKS) process.stdout.write(`${markers(block)[0]}\n${blocks[block]}\n${markers(block)[1]}\n\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = await main(process.argv.slice(2));
