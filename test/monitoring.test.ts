import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startWorkerMetrics, type WorkerMetrics } from '../src/app/worker-metrics.ts';
import { createLogger } from '../src/log.ts';
import { webhookQueuePrefix } from '../src/queue/names.ts';
import { deliveryQueue } from '../src/webhooks/deliveries.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { freePort, HTTP_ENV, startTestServer, type TestServer } from './helpers/http.ts';
import { parseMetrics, valueOf, type Sample } from './helpers/prometheus.ts';
import { newRedis } from './helpers/redis.ts';

/**
 * deploy/monitoring/: every metric and label the alert rules and the Grafana
 * dashboard name is one the real registries export (the worker's /metrics and
 * the HTTP server's, scraped), and promtool accepts and passes the rules.
 */
const ROOT = new URL('../', import.meta.url);
const ALERTS = new URL('deploy/monitoring/alerts.yml', ROOT);
const ALERT_TESTS = new URL('deploy/monitoring/alerts.test.yml', ROOT);
const DASHBOARD = new URL('deploy/monitoring/grafana-dashboard.json', ROOT);
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { version: string }).version;
/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['instance', 'job'];
const PROMTOOL = spawnSync('promtool', ['--version']).error === undefined;

interface Rule {
  alert: string;
  expr: string;
  annotations?: Record<string, string>;
}
interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: { expr: string; datasource?: { uid?: string } }[];
}

const rules = (parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { schemaVersion: number; templating: { list: { name: string; type: string; query: unknown }[] }; panels: Panel[] };
const panels = dashboard.panels.filter((p) => p.type !== 'row');

/** Metric names as a query (or a description) writes them; ours, and Node's that the registries carry. */
const SELECTOR = /\b((?:livequeue|process|nodejs)_[a-zA-Z0-9_]*)\s*(?:\{([^}]*)\})?/g;
const GROUPING = /\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g;

/** Metric name -> the label names its samples carry, from Prometheus text exposition. */
type Exported = Map<string, Set<string>>;

function exportedBy(text: string): Exported {
  const exported: Exported = new Map();
  // Every registered metric has a TYPE line, samples or not; a histogram's samples have suffixes.
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const names = type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => name + s) : type === 'summary' ? [name!, `${name}_sum`, `${name}_count`] : [name!];
    for (const n of names) exported.set(n, new Set(TARGET_LABELS));
  }
  for (const sample of parseMetrics(text)) for (const label of Object.keys(sample.labels)) exported.get(sample.name)?.add(label);
  return exported;
}

/** What a query or text names that the registries do not export: unknown metrics, unknown labels. */
function unknownIn(where: string, query: string, exported: Exported): string[] {
  const problems: string[] = [];
  const labelsHere = new Set(TARGET_LABELS);
  for (const [, name, matchers] of query.matchAll(SELECTOR)) {
    const labels = exported.get(name!);
    if (!labels) {
      problems.push(`${where}: ${name} is not exported`);
      continue;
    }
    for (const l of labels) labelsHere.add(l);
    for (const [, label] of (matchers ?? '').matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) if (!labels.has(label!)) problems.push(`${where}: ${name} has no label ${label}`);
  }
  for (const [, list] of query.matchAll(GROUPING)) {
    for (const label of list!.split(',').map((l) => l.trim()).filter(Boolean)) if (!labelsHere.has(label)) problems.push(`${where}: no metric of the query has the label ${label}`);
  }
  return problems;
}

let h: Harness;
let dir: string;
let worker: WorkerMetrics | undefined;
let server: TestServer;
let scraped: { worker: Sample[]; server: Sample[]; exported: Exported };

/** One delivery to `webhook` that used its only attempt: a failed job in the endpoint's queue, as the delivery worker leaves it. */
async function failOneDelivery(webhook: string): Promise<void> {
  const queue = deliveryQueue(h.runtime, { name: webhook });
  const connection = newRedis();
  const failer = new Worker(webhook, async () => { throw new Error('the receiver answered HTTP 500'); }, { connection, prefix: webhookQueuePrefix(h.runtime.prefix) });
  try {
    const failed = new Promise((resolve) => failer.once('failed', resolve));
    await queue.add('delivery', { id: '1-0' }, { attempts: 1, removeOnFail: false });
    await failed;
  } finally {
    await failer.close();
    await queue.close();
    connection.disconnect();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'livequeue-monitoring-'));
  const hooks = join(dir, 'webhooks.json');
  const endpoint = (name: string) => ({ name, url: 'http://127.0.0.1:9/hook', events: ['outcome'], secretEnv: 'WH_SECRET' });
  writeFileSync(hooks, JSON.stringify([endpoint('feed'), endpoint('quiet')]));
  h = await startHarness('monitoring', { ...HTTP_ENV, LIVEQUEUE_WEBHOOKS_FILE: hooks, WEBHOOKS_ALLOW_HTTP_LOOPBACK: '1', WH_SECRET: 'w'.repeat(40) });
  await failOneDelivery('feed');
  // No domain to read: the blacklist's figures are cached, so its gauges have samples.
  await h.runtime.blacklist.refresh({ describeBlockList: () => Promise.reject(new Error('no domain should be read')) });

  worker = await startWorkerMetrics({ ...h.config, metricsPort: await freePort() }, [h.runtime], createLogger('silent'));
  if (!worker) throw new Error('the worker metrics did not start');
  // One of everything a worker observes, so every labelled series has a sample to check labels against.
  const observe = worker.observer.forAccount(h.runtime.name);
  observe.call('ForbidLiveStream', 'OK', 12);
  for (const outcome of ['applied', 'already-applied', 'dead-lettered', 'retry'] as const) observe.outcome('ForbidLiveStream', outcome, 'InternalError');
  observe.throttled('ForbidLiveStream');
  observe.slotWait('ForbidLiveStream', 5);
  observe.missedSlot('ForbidLiveStream');
  observe.finished('ForbidLiveStream', 'applied', 40);
  observe.hostHeld(false);
  server = await startTestServer(h.config);

  const texts = await Promise.all([`${worker.url}/metrics`, `${server.url}/metrics`].map(async (url) => (await fetch(url)).text()));
  const exported: Exported = new Map();
  for (const [name, labels] of texts.flatMap((t) => [...exportedBy(t)])) exported.set(name, new Set([...(exported.get(name) ?? []), ...labels]));
  scraped = { worker: parseMetrics(texts[0]!), server: parseMetrics(texts[1]!), exported };
});

afterAll(async () => {
  await worker?.close();
  await server?.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the metrics the monitoring pack relies on', () => {
  it('livequeue_build_info carries package.json\'s version and Node\'s on both endpoints, and the compiled code finds package.json too', async () => {
    for (const samples of [scraped.worker, scraped.server]) {
      expect(valueOf(samples, 'livequeue_build_info', { version: PACKAGE_VERSION, node: process.versions.node })).toBe(1);
    }
    const compiled = (await import(new URL('dist/src/package-version.js', ROOT).href)) as { packageVersion(): string };
    expect(compiled.packageVersion()).toBe(PACKAGE_VERSION);
  });

  it('livequeue_webhook_failed_deliveries counts each endpoint\'s deliveries that failed for good, on both endpoints', () => {
    for (const samples of [scraped.worker, scraped.server]) {
      expect(valueOf(samples, 'livequeue_webhook_failed_deliveries', { account: h.runtime.name, webhook: 'feed' })).toBe(1);
      expect(valueOf(samples, 'livequeue_webhook_failed_deliveries', { account: h.runtime.name, webhook: 'quiet' })).toBe(0);
    }
  });
});

describe('alerts.yml', () => {
  it('has rules for each condition, each saying what to do', () => {
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining([
      'LivequeueBacklogStuck', 'LivequeueOperationHeld', 'LivequeueBlacklistNearlyFull', 'LivequeueMissedSlots',
      'LivequeueWebhookDeliveriesFailed', 'LivequeueRedisEvictionPolicy', 'LivequeueRedisDown', 'LivequeueProcessHeld',
    ]));
    for (const rule of rules) {
      expect(rule.annotations?.summary, rule.alert).toMatch(/\S/);
      expect(rule.annotations?.description?.length ?? 0, rule.alert).toBeGreaterThan(40);
    }
  });

  it('names only metrics and labels the registries export, in its queries and its texts', () => {
    // The check itself catches a name nobody exports and a label a metric lacks.
    expect(unknownIn('self-check', 'max by (shard) (livequeue_nope{account="a"}) + livequeue_redis_up{account="a"}', scraped.exported)).toEqual([
      'self-check: livequeue_nope is not exported',
      'self-check: livequeue_redis_up has no label account',
      'self-check: no metric of the query has the label shard',
    ]);
    const problems = rules.flatMap((r) => [
      ...unknownIn(r.alert, r.expr, scraped.exported),
      ...Object.values(r.annotations ?? {}).flatMap((text) => unknownIn(`${r.alert} annotation`, text, scraped.exported)),
    ]);
    expect(problems).toEqual([]);
  });

  it.skipIf(!PROMTOOL)('passes `promtool check rules` and its unit tests in alerts.test.yml (skipped when promtool is not on PATH)', () => {
    for (const args of [['check', 'rules', ALERTS.pathname], ['test', 'rules', ALERT_TESTS.pathname]]) {
      const run = spawnSync('promtool', args, { encoding: 'utf8' });
      expect(run.status, `promtool ${args.join(' ')}\n${run.stdout}${run.stderr}`).toBe(0);
    }
  });
  if (!PROMTOOL) console.warn('monitoring.test.ts: promtool is not on PATH, so the promtool case is skipped (apt-get install prometheus)');
});

describe('grafana-dashboard.json', () => {
  it('is a current dashboard with a Prometheus ${datasource} variable and an account variable, which every panel uses', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(38);
    const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(variables.get('account')).toMatchObject({ type: 'query' });
    expect(panels.length).toBeGreaterThan(5);
    for (const panel of panels) {
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      for (const target of panel.targets ?? []) expect(target.datasource?.uid ?? '${datasource}', panel.title).toBe('${datasource}');
    }
  });

  it('queries only metrics and labels the registries export, and shows each the operator\'s view needs', () => {
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.flatMap(({ panel, expr }) => unknownIn(panel, expr, scraped.exported))).toEqual([]);
    const queried = exprs.map((e) => e.expr).join('\n');
    for (const name of [
      'livequeue_api_calls_total', 'livequeue_bucket_configured_rate', 'livequeue_queue_jobs', 'livequeue_oldest_waiting_job_age_seconds',
      'livequeue_operation_held', 'livequeue_blacklist_headroom', 'livequeue_jobs_dead_lettered_total', 'livequeue_throttles_total',
      'livequeue_missed_slots_total', 'livequeue_webhook_failed_deliveries', 'livequeue_build_info',
    ]) expect(queried, name).toContain(name);
    // Every query of an account's metrics follows the account variable.
    for (const { panel, expr } of exprs) {
      for (const [, name, matchers] of expr.matchAll(SELECTOR)) if (scraped.exported.get(name!)?.has('account')) expect(matchers ?? '', `${panel}: ${name}`).toContain('account=~"$account"');
    }
  });
});
