import type { FaultsInput } from './options.ts';

export interface FaultSettings {
  internalErrorRate: number;
  serviceUnavailableRate: number;
  dropConnectionRate: number;
  dropAfterEffectRate: number;
  throttleRate: number;
  /** Epoch ms until which every call fails with `outageAnswer`; null when there is no outage. */
  outageUntilMs: number | null;
  outageAnswer: OutageAnswer;
}

/** The answer every call gets during an outage. */
export interface OutageAnswer {
  code: string;
  status?: number;
  /** A gateway's HTML page instead of a JSON error body. */
  html: boolean;
}

/** What a fault does to a call before its effect: an error answer, or a dropped connection. */
export type EarlyFault = OutageAnswer | 'drop';

const INTERNAL_ERROR: OutageAnswer = { code: 'InternalError', html: false };
const THROTTLED: OutageAnswer = { code: 'Throttling.User', status: 400, html: false };

const NONE: FaultSettings = {
  internalErrorRate: 0,
  serviceUnavailableRate: 0,
  dropConnectionRate: 0,
  dropAfterEffectRate: 0,
  throttleRate: 0,
  outageUntilMs: null,
  outageAnswer: INTERNAL_ERROR,
};

/** Injected failures, for rehearsing incidents against the client. */
export class Faults {
  #settings: FaultSettings = { ...NONE };

  constructor(private readonly random: () => number = Math.random) {}

  settings(): FaultSettings {
    return { ...this.#settings };
  }

  /** Changes only the settings given; `outage: null` ends an outage. */
  update(input: FaultsInput, now: number): FaultSettings {
    const { outage, ...rates } = input;
    const next = { ...this.#settings };
    for (const [name, value] of Object.entries(rates) as [keyof typeof rates, number | undefined][]) {
      if (value !== undefined) next[name] = value;
    }
    if (outage === null) next.outageUntilMs = null;
    else if (outage) {
      next.outageUntilMs = 'untilMs' in outage ? outage.untilMs : now + outage.durationMs;
      next.outageAnswer = { code: outage.code ?? (outage.html ? `HTTP${outage.status ?? 503}` : 'InternalError'), status: outage.status, html: outage.html ?? false };
    }
    this.#settings = next;
    return this.settings();
  }

  clear(): void {
    this.#settings = { ...NONE };
  }

  /** Decided before the call's effect: the effect is not applied when a fault fires. */
  beforeEffect(now: number): EarlyFault | undefined {
    const s = this.#settings;
    if (s.outageUntilMs !== null && now < s.outageUntilMs) return s.outageAnswer;
    if (this.#fires(s.internalErrorRate)) return INTERNAL_ERROR;
    if (this.#fires(s.serviceUnavailableRate)) return { code: 'ServiceUnavailable', html: false };
    if (this.#fires(s.dropConnectionRate)) return 'drop';
    if (this.#fires(s.throttleRate)) return THROTTLED;
    return undefined;
  }

  /** Decided after the effect: the answer is lost, the effect stays. */
  dropAfterEffect(): boolean {
    return this.#fires(this.#settings.dropAfterEffectRate);
  }

  #fires(rate: number): boolean {
    return rate > 0 && this.random() < rate;
  }
}
