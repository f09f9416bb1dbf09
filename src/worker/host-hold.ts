import type { HoldSettings } from '../holds/holds.ts';
import type { HostFaults, HostFaultVerdict } from '../holds/host-faults.ts';
import type { Logger } from '../log.ts';
import type { ProcessIdentity } from '../process-identity.ts';
import type { WorkerObserver } from './observer.ts';

/**
 * A host's own fault (its AccessKey, its signature, its clock, its credential
 * chain) holds this process first, not the account: a stale secret on one of
 * three hosts must not stop the two healthy ones. While held, this process's
 * workers take no jobs, and now and then one job of theirs goes out as a
 * probe; a success ends the hold. The account-wide hold trips only when the
 * fault is wider (HostFaults.report): another process sees the same kind, or
 * no process of the account succeeds. This process's own hold stays either
 * way: when the account's is released by another process's success, this one
 * still holds itself until its own probe succeeds.
 *
 * One per account per process, shared by the account's operations (they sign
 * with the same credentials).
 */
export interface HostHoldDeps {
  account: string;
  process: ProcessIdentity;
  faults: HostFaults;
  settings: Pick<HoldSettings, 'probeMs' | 'probeMaxMs'>;
  log: Logger;
  observer: WorkerObserver;
  /** Stop and start fetching jobs in this process (the account's BullMQ workers). */
  pauseWorkers(): void;
  resumeWorkers(): void;
}

export type HostGate = 'open' | 'probe' | 'closed';

interface HeldState {
  code: string;
  since: number;
  interval: number;
  nextProbeAt: number;
  probing: boolean;
}

export class HostHold {
  private held?: HeldState;
  private timer?: NodeJS.Timeout;

  constructor(private readonly deps: HostHoldDeps) {}

  get isHeld(): boolean {
    return this.held !== undefined;
  }

  /** May a job of this process call now? The first job after the probe time is the probe; every other waits. */
  gate(): HostGate {
    const held = this.held;
    if (!held) return 'open';
    if (held.probing || Date.now() < held.nextProbeAt) return 'closed';
    held.probing = true;
    // The probe alone goes out: fetch nothing more until it answers.
    this.deps.pauseWorkers();
    return 'probe';
  }

  /** Without claiming a probe: is this process held? For the moment between a slot and its send. */
  peek(): boolean {
    return this.held !== undefined;
  }

  /**
   * A call of this process failed with a host-kind code. Returns 'account'
   * (and why) when the fault is wider than this host: the caller then holds
   * the account too.
   */
  async failed(code: string, context: Record<string, unknown>, probe: boolean): Promise<HostFaultVerdict> {
    const { settings, log } = this.deps;
    const now = Date.now();
    if (!this.held) {
      this.held = { code, since: now, interval: settings.probeMs, nextProbeAt: now + settings.probeMs, probing: false };
      this.deps.pauseWorkers();
      this.deps.observer.hostHeld(true);
      log.error(
        { ...context, account: this.deps.account, host: this.deps.process.host, pid: this.deps.process.pid, process: this.deps.process.id, nextProbeAt: new Date(this.held.nextProbeAt).toISOString() },
        `this process holds itself for account "${this.deps.account}": ${code} is about its own credentials, signature or clock; it takes no jobs, other processes go on, and one probe call goes out now and then`,
      );
    } else if (probe) {
      const interval = Math.min(this.held.interval * 2, settings.probeMaxMs);
      Object.assign(this.held, { code, interval, nextProbeAt: now + interval, probing: false });
    }
    const verdict = await this.deps.faults.report(this.deps.process, code);
    this.scheduleProbe();
    return verdict;
  }

  /** A call of this process was answered about its job: its credentials work. */
  async succeeded(): Promise<void> {
    const held = this.held;
    if (!held) return;
    this.deps.log.warn({ account: this.deps.account, process: this.deps.process.id, code: held.code, heldForMs: Date.now() - held.since }, 'this process no longer holds itself: a call succeeded again');
    await this.end();
  }

  /** A probe this process claimed ended without an answer (held by the account, gave way): let the next job probe. */
  settle(): void {
    if (!this.held?.probing) return;
    this.held.probing = false;
    this.scheduleProbe();
  }

  /** Stops the probe timer (the process is closing). */
  close(): void {
    clearTimeout(this.timer);
  }

  private async end(): Promise<void> {
    this.held = undefined;
    clearTimeout(this.timer);
    this.deps.observer.hostHeld(false);
    this.deps.resumeWorkers();
    await this.deps.faults.clear(this.deps.process).catch((error: Error) => this.deps.log.warn({ err: error.message }, 'could not clear this process\'s host fault record'));
  }

  /** Fetch again at the next probe time, so that one job can go out as the probe. */
  private scheduleProbe(): void {
    const held = this.held;
    if (!held) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.held === held) this.deps.resumeWorkers();
    }, Math.max(0, held.nextProbeAt - Date.now()));
    this.timer.unref();
  }
}
