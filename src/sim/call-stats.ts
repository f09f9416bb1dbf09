export interface ActionStats {
  calls: number;
  byCode: Record<string, number>;
  responsesLost: number;
}

/** Running totals since start or reset; unlike the call log, never trimmed. */
export class CallStats {
  #byAction = new Map<string, ActionStats>();

  count(action: string, code: string, responseLost: boolean): void {
    let stats = this.#byAction.get(action);
    if (!stats) this.#byAction.set(action, (stats = { calls: 0, byCode: {}, responsesLost: 0 }));
    stats.calls += 1;
    stats.byCode[code] = (stats.byCode[code] ?? 0) + 1;
    if (responseLost) stats.responsesLost += 1;
  }

  get(action: string): ActionStats {
    const stats = this.#byAction.get(action);
    return stats ? { ...stats, byCode: { ...stats.byCode } } : { calls: 0, byCode: {}, responsesLost: 0 };
  }

  actions(): string[] {
    return [...this.#byAction.keys()];
  }

  clear(): void {
    this.#byAction.clear();
  }
}
