export { LiveApiSimulator, type SimStats } from './simulator.ts';
export { CONNECTION_DROPPED, type CallRecord } from './call-log.ts';
export type { ActionStats } from './call-stats.ts';
export type { FaultSettings } from './faults.ts';
export {
  ACTIONS,
  API_VERSION,
  type Action,
  type FaultsInput,
  type LiveApiSimulatorOptions,
  type ScriptRule,
} from './options.ts';
export { maxInAnyWindow } from './windows.ts';
