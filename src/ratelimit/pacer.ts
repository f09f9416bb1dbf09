import { setTimeout as sleep } from 'node:timers/promises';
import type { TokenBucket } from './token-bucket.ts';

interface Waiter {
  priority: number;
  resolve: (grant: Grant) => void;
}

export type Grant =
  /** `sendBy`: performance.now() by which the call must leave, or not at all. */
  | { kind: 'slot'; sendBy: number }
  /** An urgent job is on its way: this waiter's job should go back to the queue (see giveWay). */
  | { kind: 'give-way' };

/**
 * Hands the slots of one shared bucket to the calls waiting in this process.
 * Callers await `acquire()`; the pacer reserves slots for all of them in one
 * Redis round trip, sleeps until each slot and then releases the most urgent
 * waiter. It never polls: when the horizon is full Redis says exactly when
 * the next slot can be reserved. Waiting here costs a job no retry attempt.
 */
export class Pacer {
  private readonly waiters: Waiter[] = [];
  private heldSlots = 0;
  private pumping = false;

  /**
   * How late after its slot a call may still leave: a late call followed by
   * on-time ones would squeeze more calls than the QPS into one rolling
   * second. Three eighths of the pacing margin (7.5 ms of the default 20);
   * the rest absorbs what happens after this check: a GC pause or a
   * preemption before the bytes leave, and jitter on the way to the server.
   * On a busy 2-core host one call in about a thousand arrived 7 ms or more
   * after passing the check.
   */
  private readonly maxLatenessMs: number;

  constructor(private readonly bucket: TokenBucket) {
    this.maxLatenessMs = Math.max(1, (bucket.settings.marginMs * 3) / 8);
  }

  /** Resolves at this caller's slot. Lower priority numbers go first. */
  acquire(priority = 0): Promise<Grant> {
    return new Promise<Grant>((resolve) => {
      const waiter = { priority, resolve };
      // Keep the queue ordered by (priority, arrival); it is at most `concurrency` long.
      let i = this.waiters.length;
      while (i > 0 && this.waiters[i - 1]!.priority > priority) i--;
      this.waiters.splice(i, 0, waiter);
      void this.pump();
    });
  }

  /**
   * Makes room for up to `count` urgent jobs: the last waiters in line, if
   * they are not urgent themselves (priority 0), are told to give way, and
   * their jobs go back to the queue, so the worker fetches the urgent ones
   * now instead of after a backlog job is sent. The slots already reserved
   * stay: the next goes to the urgent job once it arrives. Returns how many
   * gave way.
   */
  giveWay(count: number): number {
    let given = 0;
    while (given < count && this.waiters.length > 0 && this.waiters.at(-1)!.priority > 0) {
      this.waiters.pop()!.resolve({ kind: 'give-way' });
      given++;
    }
    return given;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.waiters.length > this.heldSlots) {
        const wanted = this.waiters.length - this.heldSlots;
        let reservation;
        try {
          reservation = await this.bucket.reserve(wanted);
        } catch {
          // Redis unreachable: ioredis reconnects by itself; try again shortly, not in a tight loop.
          await sleep(250);
          continue;
        }
        for (let i = 0; i < reservation.granted; i++) {
          this.heldSlots++;
          this.releaseAt(reservation.firstSlotAt + i * reservation.intervalMs);
        }
        // A full horizon comes back with the exact wait until a slot opens; a
        // partial grant loops once more to learn that wait.
        if (reservation.granted === 0) await sleep(Math.max(1, reservation.waitMs));
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Node can fire a timer early: it measures from the start of the current
   * event-loop turn, not from when setTimeout was called. So check the clock
   * and re-arm until the slot is really due.
   */
  private releaseAt(target: number): void {
    const remaining = target - performance.now();
    if (remaining > 0) {
      setTimeout(() => this.releaseAt(target), Math.ceil(remaining));
      return;
    }
    this.heldSlots--;
    if (-remaining > this.maxLatenessMs) {
      // The event loop was busy past the slot: give it up and reserve anew.
      void this.pump();
      return;
    }
    this.waiters.shift()?.resolve({ kind: 'slot', sendBy: target + this.maxLatenessMs });
  }
}
