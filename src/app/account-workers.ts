import type { LiveApi } from '../live/client.ts';
import { OPERATIONS, type Operation } from '../catalog/operations.ts';
import type { Logger } from '../log.ts';
import { LiveWorkers } from '../worker/worker.ts';
import { NO_OBSERVER, type WorkerObserver } from '../worker/observer.ts';
import type { OutageLog } from '../worker/outage-log.ts';
import type { AccountRuntime } from './runtime.ts';

export interface AccountWorkersOptions {
  /** The Live API client; by default one for this account's region and credentials. */
  live?: LiveApi;
  log: Logger;
  operations?: readonly Operation[];
  concurrency?: number;
  observer?: WorkerObserver;
  /** Called once when a blacklist hold begins. */
  onBlacklistFull?: () => void;
  outage?: OutageLog;
}

/** Workers draining one account's operations, from the runtime's parts; call start() on them. */
export function accountWorkers(runtime: AccountRuntime, options: AccountWorkersOptions): LiveWorkers {
  return new LiveWorkers({
    account: runtime,
    live: options.live ?? runtime.liveClient(),
    log: options.log.child({ account: runtime.name }),
    operations: options.operations ?? OPERATIONS,
    concurrency: options.concurrency ?? runtime.config.concurrency,
    observer: options.observer ?? NO_OBSERVER,
    // A ban or a lift is counted for the blacklist, and its batch learns of it (undo needs the bans it applied).
    onFinished: async (operation, id, params, outcome) => {
      await Promise.all([runtime.batches.finished(operation, id, params, outcome), outcome === 'applied' ? runtime.blacklist.noteApplied(operation, params) : undefined]);
    },
    onBlacklistFull: options.onBlacklistFull,
    outage: options.outage,
  });
}
