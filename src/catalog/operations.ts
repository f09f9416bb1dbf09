/**
 * The catalog of the ApsaraVideo Live operations this product queues: every
 * fact about an operation that more than one place needs lives here, and the
 * CLI flags, environment variables, accounts file, HTTP routes, worker
 * defaults and simulator are derived from it. An operation added here gets a
 * queue, a token bucket, a QPS setting, a worker (the default worker drains
 * every operation), an HTTP route and job ids the API accepts, without
 * anything else to remember; the compiler asks for the rest (its parameter
 * schema, input fields, the simulator's behaviour).
 *
 * ResumeLiveStream lifts bans: `livequeue batch undo` enqueues it for a batch
 * that was a mistake.
 */
export const OPERATIONS = ['ForbidLiveStream', 'StopLiveStreamMonitor', 'ResumeLiveStream'] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface OperationFacts {
  /** Short name used on the command line, in HTTP routes, queue names and job ids. */
  readonly slug: string;
  /** What a call does, in a few words (help texts). */
  readonly does: string;
  /** Per-account QPS published on the operation's API page. */
  readonly defaultQps: number;
  /** Environment variable of the account's QPS. */
  readonly qpsVariable: string;
  /** CLI flag overriding qpsVariable (also the simulator's flag for its quota). */
  readonly qpsFlag: `--${string}`;
  /** Field of an account in LIVEQUEUE_ACCOUNTS_FILE holding its QPS. */
  readonly accountsFileField: string;
  /**
   * What a job is about: a stream (DomainName, AppName, StreamName) or a
   * monitoring session (MonitorId). It makes the job id (one job per stream
   * or per monitor), the target a hold tells apart, and whether plain-text
   * input (one MonitorId per line) fits the operation.
   */
  readonly subject: 'stream' | 'monitor';
  /** True when an applied call adds to the account's stream blacklist (unless Oneshot=yes). */
  readonly addsToBlacklist: boolean;
  /** The operation that takes an applied call back (`batch undo`); null when none can. */
  readonly undoneBy: Operation | null;
}

export const OPERATION_INFO = {
  ForbidLiveStream: {
    api: 'ForbidLiveStream',
    slug: 'forbid',
    does: 'bans streams',
    defaultQps: 20,
    qpsVariable: 'FORBID_QPS',
    qpsFlag: '--forbid-qps',
    accountsFileField: 'forbidQps',
    subject: 'stream',
    addsToBlacklist: true,
    undoneBy: 'ResumeLiveStream',
  },
  StopLiveStreamMonitor: {
    api: 'StopLiveStreamMonitor',
    slug: 'stop-monitor',
    does: 'stops monitoring sessions',
    defaultQps: 10,
    qpsVariable: 'STOP_MONITOR_QPS',
    qpsFlag: '--stop-monitor-qps',
    accountsFileField: 'stopMonitorQps',
    subject: 'monitor',
    addsToBlacklist: false,
    undoneBy: null,
  },
  ResumeLiveStream: {
    api: 'ResumeLiveStream',
    slug: 'resume-stream',
    does: 'lifts bans (batch undo)',
    defaultQps: 30,
    qpsVariable: 'RESUME_QPS',
    qpsFlag: '--resume-qps',
    accountsFileField: 'resumeQps',
    subject: 'stream',
    addsToBlacklist: false,
    undoneBy: null,
  },
} as const satisfies { readonly [O in Operation]: OperationFacts & { readonly api: O } };

export type OperationInfo = (typeof OPERATION_INFO)[Operation];
export type OperationSlug = OperationInfo['slug'];
export type QpsVariable = OperationInfo['qpsVariable'];
export type AccountsFileQpsField = OperationInfo['accountsFileField'];

export const OPERATION_SLUGS: readonly OperationSlug[] = OPERATIONS.map((op) => OPERATION_INFO[op].slug);
/** The slugs as a non-empty tuple, for z.enum and commander's choices. */
export const SLUG_CHOICES = OPERATION_SLUGS as readonly [OperationSlug, ...OperationSlug[]];

export function operationFromSlug(slug: string): Operation | undefined {
  return OPERATIONS.find((op) => OPERATION_INFO[op].slug === slug);
}

/** `forbid, stop-monitor, resume-stream`: for help texts and error messages. */
export function slugList(separator = ', '): string {
  return OPERATION_SLUGS.join(separator);
}

/** One value per operation, in catalog order. */
export function perOperation<T>(value: (operation: Operation) => T): Record<Operation, T> {
  return Object.fromEntries(OPERATIONS.map((op) => [op, value(op)])) as Record<Operation, T>;
}

/**
 * Job ids (see queue/names.ts jobId): `<slug>.<account>.<key>`, the key being
 * a hash of the stream's coordinates or the MonitorId.
 */
export const JOB_ID_PATTERN = new RegExp(`^(${OPERATION_SLUGS.map((s) => s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')).join('|')})\\.[A-Za-z0-9_.-]+$`);

export const API_VERSION = '2016-11-01';
