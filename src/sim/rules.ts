import type { Action, ScriptRule } from './options.ts';

interface ActiveRule {
  rule: ScriptRule;
  remaining: number;
}

/** Scripted answers: makes the simulator answer any code of the pages for chosen calls. */
export class ScriptedRules {
  #active: ActiveRule[] = [];

  add(rule: ScriptRule): void {
    this.#active.push({ rule, remaining: rule.times ?? Infinity });
  }

  /** The first rule matching this call, using up one of its times. */
  take(action: Action, params: Readonly<Record<string, string>>): ScriptRule | undefined {
    const found = this.#active.find(
      ({ rule }) =>
        rule.action === action && Object.entries(rule.match ?? {}).every(([key, value]) => params[key] === value),
    );
    if (!found) return undefined;
    found.remaining -= 1;
    if (found.remaining <= 0) this.#active = this.#active.filter((r) => r !== found);
    return found.rule;
  }

  count(): number {
    return this.#active.length;
  }

  clear(): void {
    this.#active = [];
  }
}
