import type { RetrySchedule } from '../config.ts';
import type { LiveApi } from '../live/client.ts';
import type { Operation } from '../catalog/operations.ts';
import type { DeadLetterQueue } from '../ledger/dead-letter.ts';
import type { Outcomes } from '../ledger/outcomes.ts';
import type { AuditTrail } from '../ledger/audit.ts';
import type { Holds } from '../holds/holds.ts';
import type { Stats } from '../ledger/stats.ts';
import type { Pacer } from '../ratelimit/pacer.ts';
import type { TokenBucket } from '../ratelimit/token-bucket.ts';
import type { Logger } from '../log.ts';
import type { HoldView } from '../holds/view.ts';
import type { HostHold } from './host-hold.ts';
import type { WorkerObserver } from './observer.ts';

/**
 * What one account's operation processes jobs with. Each part of a job's path
 * (worker/processor.ts) takes the Pick of it that it uses.
 */
export interface ProcessorDeps {
  /** The account whose credentials and bucket this processor uses. */
  account: string;
  operation: Operation;
  live: LiveApi;
  pacer: Pacer;
  bucket: TokenBucket;
  deadLetters: DeadLetterQueue;
  stats: Stats;
  outcomes: Outcomes;
  /** The account's audit trail: every final outcome, with its subject, batch and RequestId. */
  audit: Pick<AuditTrail, 'outcome'>;
  holds: Holds;
  holdView: HoldView;
  /** This process's own hold for host-local faults (credentials, signature, clock), shared by the account's operations. */
  hostHold: HostHold;
  blacklistRecheckMs: number;
  /** Called as a job ends applied or already-applied (its batch, the blacklist count). */
  onFinished: (jobId: string, params: unknown, outcome: 'applied' | 'already-applied') => Promise<void>;
  /** Called once when a blacklist hold begins: the figures are read again. */
  onBlacklistFull?: () => void;
  retry: RetrySchedule;
  log: Logger;
  observer: WorkerObserver;
}
