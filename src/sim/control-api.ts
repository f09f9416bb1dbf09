import { z } from 'zod';
import type { CallRecord } from './call-log.ts';
import type { FaultSettings } from './faults.ts';
import { faultsInputSchema, scriptRuleSchema, type FaultsInput, type ScriptRule } from './options.ts';
import { CONTROL_PREFIX, type ControlReply } from './server.ts';
import type { SimStats } from './sim-stats.ts';

/** What the control API drives; the simulator implements it. */
export interface Controllable {
  stats(): SimStats;
  calls(sinceMs?: number): CallRecord[];
  createMonitors(count: number): string[];
  seedBlacklist(domain: string, count: number): number;
  setFaults(faults: FaultsInput): FaultSettings;
  script(rule: ScriptRule): void;
  clearRules(): void;
  reset(): void;
}

const MAX_MONITORS_PER_REQUEST = 100_000;
const DEFAULT_CALLS_LIMIT = 10_000;

const blacklistBody = z.object({ domain: z.string().min(1), count: z.number().int().nonnegative().max(100_000) }).strict();
const monitorsBody = z.object({ count: z.number().int().nonnegative().max(MAX_MONITORS_PER_REQUEST) }).strict();
const callsQuery = z.object({
  since: z.coerce.number().default(-Infinity),
  limit: z.coerce.number().int().positive().default(DEFAULT_CALLS_LIMIT),
});

type Route = (sim: Controllable, query: URLSearchParams, body: unknown) => unknown;

/**
 * JSON routes under /__sim/, unsigned, so the CLI and other processes can
 * drive a simulator running elsewhere. `GET calls?since=<ms>` returns calls
 * that arrived after `since`, oldest first; poll with the last `at` seen.
 */
const ROUTES: Record<string, Route> = {
  'GET stats': (sim) => sim.stats(),
  'GET calls': (sim, query) => {
    const { since, limit } = callsQuery.parse(Object.fromEntries(query));
    const calls = sim.calls(since);
    return { calls: calls.slice(0, limit), truncated: calls.length > limit };
  },
  'POST monitors': (sim, _query, body) => ({ monitorIds: sim.createMonitors(monitorsBody.parse(body).count) }),
  'POST blacklist': (sim, _query, body) => {
    const { domain, count } = blacklistBody.parse(body);
    return { added: sim.seedBlacklist(domain, count) };
  },
  'POST faults': (sim, _query, body) => ({ faults: sim.setFaults(faultsInputSchema.parse(body)) }),
  'POST rules': (sim, _query, body) => {
    sim.script(scriptRuleSchema.parse(body));
    return { rules: sim.stats().rules };
  },
  'POST rules/clear': (sim) => {
    sim.clearRules();
    return { rules: sim.stats().rules };
  },
  'POST reset': (sim) => {
    sim.reset();
    return { ok: true };
  },
};

export function handleControl(sim: Controllable, method: string, path: string, query: URLSearchParams, raw: Buffer): ControlReply {
  const route = ROUTES[`${method} ${path.slice(CONTROL_PREFIX.length)}`];
  if (!route) return { status: 404, body: { error: `no route ${method} ${path}` } };
  let body: unknown;
  try {
    body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : {};
  } catch {
    return { status: 400, body: { error: 'body is not JSON' } };
  }
  try {
    return { status: 200, body: route(sim, query, body) };
  } catch (error) {
    if (error instanceof z.ZodError) return { status: 400, body: { error: z.prettifyError(error) } };
    throw error;
  }
}
