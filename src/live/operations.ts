/**
 * The ApsaraVideo Live operations this product queues, and the facts about
 * each that the rest of the code needs: what its queue is called and its
 * default per-account QPS (from the API pages). ResumeLiveStream lifts bans:
 * `livequeue batch undo` enqueues it for a batch that was a mistake.
 */
export const OPERATIONS = ['ForbidLiveStream', 'StopLiveStreamMonitor', 'ResumeLiveStream'] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface OperationInfo {
  /** Short name used on the command line, in queue names and job ids. */
  readonly slug: 'forbid' | 'stop-monitor' | 'resume-stream';
  /** Per-account QPS published on the operation's API page. */
  readonly defaultQps: number;
}

export const OPERATION_INFO: Readonly<Record<Operation, OperationInfo>> = {
  ForbidLiveStream: { slug: 'forbid', defaultQps: 20 },
  StopLiveStreamMonitor: { slug: 'stop-monitor', defaultQps: 10 },
  ResumeLiveStream: { slug: 'resume-stream', defaultQps: 30 },
};

export type OperationSlug = OperationInfo['slug'];
export const OPERATION_SLUGS: readonly OperationSlug[] = OPERATIONS.map((op) => OPERATION_INFO[op].slug);

export function operationFromSlug(slug: string): Operation | undefined {
  return OPERATIONS.find((op) => OPERATION_INFO[op].slug === slug);
}

export const API_VERSION = '2016-11-01';
