import { Authenticator } from './auth.ts';
import { Blacklist } from './blacklist.ts';
import { CallLog, type CallRecord } from './call-log.ts';
import { CallStats } from './call-stats.ts';
import { handleControl } from './control-api.ts';
import { Faults, type FaultSettings } from './faults.ts';
import { handleCall, type GatewayParts } from './gateway.ts';
import { Monitors } from './monitors.ts';
import {
  ACTIONS,
  faultsInputSchema,
  isAction,
  optionsSchema,
  scriptRuleSchema,
  type Action,
  type FaultsInput,
  type LiveApiSimulatorOptions,
  type ResolvedOptions,
  type ScriptRule,
} from './options.ts';
import { RollingWindowLimiter } from './rolling-window.ts';
import { ScriptedRules } from './rules.ts';
import { SimServer } from './server.ts';
import { now } from './time.ts';

const WINDOW_MS = 1000;
/** Stats bucket for calls naming an action the simulator does not serve. */
import { OTHER, type SimStats } from './sim-stats.ts';

export type { SimStats };

/**
 * A local ApsaraVideo Live API serving the operations the queue drives, and
 * DescribeLiveStreamsBlockList, as their pages describe: signed requests
 * (ACS3-HMAC-SHA256), per-AccessKey flow control in a strict rolling second,
 * the blacklist and monitor state behind each operation, and injectable
 * faults for rehearsing incidents.
 */
export class LiveApiSimulator {
  readonly #options: ResolvedOptions;
  readonly #auth: Authenticator;
  readonly #limiter = new RollingWindowLimiter(WINDOW_MS);
  readonly #rules = new ScriptedRules();
  readonly #faults = new Faults();
  readonly #blacklist: Blacklist;
  readonly #monitors = new Monitors();
  readonly #log: CallLog;
  readonly #stats = new CallStats();
  readonly #gateway: GatewayParts;
  #server: SimServer | undefined;
  #url: string | undefined;

  /** Throws a ZodError if an option is invalid. */
  constructor(options: LiveApiSimulatorOptions = {}) {
    this.#options = optionsSchema.parse(options);
    this.#auth = new Authenticator(this.#options.accessKeys);
    this.#blacklist = new Blacklist(this.#options.blacklistCap);
    this.#log = new CallLog(this.#options.callLogLimit);
    this.#faults.update(this.#options.faults, now());
    this.#gateway = {
      options: this.#options,
      auth: this.#auth,
      limiter: this.#limiter,
      rules: this.#rules,
      faults: this.#faults,
      live: { blacklist: this.#blacklist, monitors: this.#monitors },
      random: Math.random,
    };
  }

  /** Listens and resolves to the base URL, e.g. `http://127.0.0.1:40123`. */
  async start(): Promise<string> {
    if (this.#server) throw new Error('simulator already started');
    const server = new SimServer({
      api: (request, at) => {
        const { answer, delayMs, record } = handleCall(this.#gateway, request, at);
        this.#log.append(record);
        this.#stats.count(isAction(record.action) ? record.action : OTHER, record.code, record.responseLost);
        return { answer, delayMs, requestId: record.requestId };
      },
      control: (method, path, query, body) => handleControl(this, method, path, query, body),
    });
    const { host } = this.#options;
    const port = await server.listen(host, this.#options.port);
    this.#server = server;
    this.#url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return this.#url;
  }

  /** Closes every connection, including calls still waiting out their latency. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#url = undefined;
    await server?.close();
  }

  /** The base URL while started. */
  get url(): string | undefined {
    return this.#url;
  }

  /** Starts `count` monitoring sessions and returns their ids. */
  createMonitors(count: number): string[] {
    if (!Number.isInteger(count) || count < 0) throw new RangeError('count must be a whole number');
    return this.#monitors.create(count);
  }

  /**
   * Bans `count` streams of a domain (app `seeded`, six months), as if earlier
   * bans had filled the blacklist: for rehearsing a nearly full list.
   * Returns how many were added before the cap.
   */
  seedBlacklist(domain: string, count: number): number {
    const at = now();
    let added = 0;
    for (let i = 0; i < count; i++) if (this.#blacklist.add({ domain, app: 'seeded', stream: `seeded-${i}` }, at + 183 * 86_400_000, at) === 'added') added++;
    return added;
  }

  /** Empties the blacklist, as if every ban had been lifted. */
  clearBlacklist(): void {
    this.#blacklist.clear();
  }

  isBlacklisted(domain: string, app: string, stream: string): boolean {
    return this.#blacklist.has({ domain, app, stream }, now());
  }

  /** Unexpired blacklist entries. */
  blacklistSize(): number {
    return this.#blacklist.size(now());
  }

  /** Calls received (the most recent callLogLimit), oldest first; only those after `sinceMs` if given. */
  calls(sinceMs?: number): CallRecord[] {
    const records = this.#log.records();
    return sinceMs === undefined ? records : records.filter((r) => r.at > sinceMs);
  }

  /**
   * The most calls of `action` that arrived within any span of `windowMs`,
   * counting every arrival (throttled ones too), as the server sees the load.
   */
  maxCallsInAnyWindow(action: Action, windowMs = WINDOW_MS, accessKeyId?: string): number {
    return this.#log.maxInAnyWindow(
      (r) => r.action === action && (accessKeyId === undefined || r.accessKeyId === accessKeyId),
      windowMs,
    );
  }

  /** Changes only the fault settings given. Throws a ZodError if invalid. */
  setFaults(faults: FaultsInput): FaultSettings {
    return this.#faults.update(faultsInputSchema.parse(faults), now());
  }

  /** Ends every scripted answer: the incident they rehearse is over. */
  clearRules(): void {
    this.#rules.clear();
  }

  /** Adds a scripted answer; rules are tried in the order added. Throws a ZodError if invalid. */
  script(rule: ScriptRule): void {
    this.#rules.add(scriptRuleSchema.parse(rule));
  }

  stats(): SimStats {
    const perAction = (action: Action | typeof OTHER) => ({
      ...this.#stats.get(action),
      maxCallsInAnyWindow: isAction(action) ? this.maxCallsInAnyWindow(action) : 0,
    });
    return {
      actions: {
        ...(Object.fromEntries(ACTIONS.map((action) => [action, perAction(action)])) as Record<Action, ReturnType<typeof perAction>>),
        [OTHER]: perAction(OTHER),
      },
      blacklist: { size: this.blacklistSize(), cap: this.#options.blacklistCap },
      monitors: this.#monitors.counts(),
      faults: this.#faults.settings(),
      rules: this.#rules.count(),
    };
  }

  /** Back to the starting state: empty blacklist, monitors, log, windows and rules; faults as configured. */
  reset(): void {
    this.#auth.reset();
    this.#limiter.reset();
    this.#rules.clear();
    this.#faults.clear();
    this.#faults.update(this.#options.faults, now());
    this.#blacklist.clear();
    this.#monitors.clear();
    this.#log.clear();
    this.#stats.clear();
  }
}
