import { randomUUID } from 'node:crypto';

export type StopOutcome = 'stopped' | 'already-stopped' | 'not-found';

/** Monitoring sessions, as CreateLiveStreamMonitor would have started them. */
export class Monitors {
  // monitor id -> running?
  readonly #sessions = new Map<string, boolean>();
  #running = 0;

  create(count: number): string[] {
    const ids = Array.from({ length: count }, () => randomUUID());
    for (const id of ids) this.#sessions.set(id, true);
    this.#running += count;
    return ids;
  }

  stop(id: string): StopOutcome {
    const running = this.#sessions.get(id.toLowerCase());
    if (running === undefined) return 'not-found';
    if (!running) return 'already-stopped';
    this.#sessions.set(id.toLowerCase(), false);
    this.#running -= 1;
    return 'stopped';
  }

  counts(): { running: number; stopped: number } {
    return { running: this.#running, stopped: this.#sessions.size - this.#running };
  }

  clear(): void {
    this.#sessions.clear();
    this.#running = 0;
  }
}
