import type { ActionStats } from './call-stats.ts';
import type { FaultSettings } from './faults.ts';
import type { Action } from './options.ts';

/** Calls of an action the simulator does not serve are counted under this name. */
export const OTHER = 'other';

/** What the simulator saw, per action, and the state behind the operations. */
export interface SimStats {
  actions: Record<Action | typeof OTHER, ActionStats & { maxCallsInAnyWindow: number }>;
  blacklist: { size: number; cap: number };
  monitors: { running: number; stopped: number };
  faults: FaultSettings;
  rules: number;
}
