export type BanOutcome = 'added' | 'exists' | 'full';

/**
 * The account's stream blacklist. Entries lapse at their resume time; only
 * unexpired entries count toward the cap, as on the real service.
 */
export class Blacklist {
  // stream key -> epoch ms at which the ban lapses
  readonly #entries = new Map<string, number>();

  constructor(readonly cap: number) {}

  add(stream: StreamRef, expiresAt: number, now: number): BanOutcome {
    const key = keyOf(stream);
    const current = this.#entries.get(key);
    if (current !== undefined && current > now) return 'exists';
    this.#entries.delete(key);
    // Pruning is O(size), so only pay for it when the cap is in sight.
    if (this.#entries.size >= this.cap) this.#prune(now);
    if (this.#entries.size >= this.cap) return 'full';
    this.#entries.set(key, expiresAt);
    return 'added';
  }

  /** Lifts a ban; false if the stream was not banned. */
  remove(stream: StreamRef, now: number): boolean {
    const had = this.has(stream, now);
    this.#entries.delete(keyOf(stream));
    return had;
  }

  /** The banned streams of one domain, as `domain/app/stream`, in the order they were banned. */
  list(domain: string, now: number): string[] {
    this.#prune(now);
    const urls: string[] = [];
    for (const key of this.#entries.keys()) {
      const [d, app, stream] = key.split('\u0000');
      if (d === domain) urls.push(`${d}/${app}/${stream}`);
    }
    return urls;
  }

  has(stream: StreamRef, now: number): boolean {
    const expiresAt = this.#entries.get(keyOf(stream));
    return expiresAt !== undefined && expiresAt > now;
  }

  size(now: number): number {
    this.#prune(now);
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }

  #prune(now: number): void {
    for (const [key, expiresAt] of this.#entries) {
      if (expiresAt <= now) this.#entries.delete(key);
    }
  }
}

export interface StreamRef {
  domain: string;
  app: string;
  stream: string;
}

// NUL cannot occur in a query parameter value that names a stream, so keys cannot collide.
function keyOf({ domain, app, stream }: StreamRef): string {
  return `${domain}\u0000${app}\u0000${stream}`;
}
