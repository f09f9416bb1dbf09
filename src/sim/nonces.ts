/**
 * Signature nonces seen within the timestamp tolerance. A request replayed
 * within that time is refused; older ones are already refused by their
 * timestamp, so nonces only need remembering for that long.
 */
export class NonceCache {
  readonly #seen = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** Records `nonce`; false if it was already used within the ttl. */
  use(nonce: string, now: number): boolean {
    this.#evict(now);
    if (this.#seen.has(nonce)) return false;
    this.#seen.set(nonce, now);
    return true;
  }

  clear(): void {
    this.#seen.clear();
  }

  // Map iteration follows insertion order, which is arrival order.
  #evict(now: number): void {
    for (const [nonce, at] of this.#seen) {
      if (at > now - this.ttlMs && this.#seen.size < this.maxEntries) break;
      this.#seen.delete(nonce);
    }
  }
}
