import { setTimeout as sleep } from 'node:timers/promises';
import type { JobsOptions } from 'bullmq';
import type { WebhookEndpoint } from '../config.ts';
import { toRecord } from '../ledger/audit.ts';
import type { Logger } from '../log.ts';
import { THIS_PROCESS } from '../process-identity.ts';
import type { Queue } from '../queue/bullmq.ts';
import { auditKey, webhookGroup, webhookJobId } from '../queue/names.ts';
import { blockingConnection, type RedisClient } from '../redis.ts';
import type { WebhookAccount } from './deliveries.ts';
import { payloadOf } from './event.ts';

/** A record another consumer read and did not acknowledge for this long is taken over (its process died). */
export const CLAIM_IDLE_MS = 60_000;
const CLAIM_EVERY_MS = 15_000;
const BLOCK_MS = 2_000;
const PAGE = 100;

type Entry = [id: string, fields: string[] | null];

/**
 * Feeds one endpoint's queue from the account's audit trail, through a
 * consumer group of its own: every worker process reads in the group, so
 * each record goes to one of them. A record is acknowledged once its
 * delivery is in the queue (under a job id made of the endpoint and the
 * record id, so a record read twice is queued once); what a crashed process
 * had read is claimed by another after CLAIM_IDLE_MS.
 */
export class WebhookFeeder {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly key: string;
  private readonly group: string;
  private readonly reader: RedisClient;

  constructor(
    private readonly account: WebhookAccount,
    private readonly endpoint: WebhookEndpoint,
    private readonly queue: Queue,
    private readonly options: JobsOptions,
    private readonly log: Logger,
  ) {
    this.key = auditKey(account.prefix);
    this.group = webhookGroup(endpoint.name);
    this.reader = blockingConnection(account.redis);
    this.reader.on('error', () => {
      // The process's own connection reports outages; reads are tried again below.
    });
  }

  /** Creates the group the first time (at the trail's end: records from before the endpoint was configured are not sent), then reads. */
  async start(): Promise<void> {
    await this.ensureGroup();
    this.loop = this.run();
  }

  private async ensureGroup(): Promise<void> {
    await this.account.redis.xgroup('CREATE', this.key, this.group, '$', 'MKSTREAM').catch((error: Error) => {
      if (!error.message.includes('BUSYGROUP')) throw error;
    });
  }

  private async run(): Promise<void> {
    let nextClaim = 0;
    while (!this.stopped) {
      try {
        if (Date.now() >= nextClaim) {
          await this.claimStale();
          nextClaim = Date.now() + CLAIM_EVERY_MS;
        }
        const answer = (await this.reader.xreadgroup('GROUP', this.group, THIS_PROCESS.id, 'COUNT', PAGE, 'BLOCK', BLOCK_MS, 'STREAMS', this.key, '>')) as [string, Entry[]][] | null;
        const entries = answer?.[0]?.[1] ?? [];
        if (entries.length > 0) await this.forward(entries);
      } catch (error) {
        if (this.stopped) return;
        const message = (error as Error).message;
        // The trail was deleted (and its groups with it): start again at its end.
        if (message.includes('NOGROUP')) await this.ensureGroup().catch(() => {});
        else this.log.warn({ account: this.account.name, webhook: this.endpoint.name, err: message }, 'could not read the audit trail for a webhook; trying again');
        await sleep(1000);
      }
    }
  }

  /** Takes over the records other consumers read over CLAIM_IDLE_MS ago and never acknowledged. */
  private async claimStale(): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, entries] = (await this.account.redis.xautoclaim(this.key, this.group, THIS_PROCESS.id, CLAIM_IDLE_MS, cursor, 'COUNT', PAGE)) as [string, Entry[]];
      if (entries.length > 0) await this.forward(entries);
      cursor = next;
    } while (cursor !== '0-0' && !this.stopped);
  }

  /** Queues the deliveries the entries make for this endpoint, then acknowledges them all. */
  private async forward(entries: readonly Entry[]): Promise<void> {
    const jobs = entries.flatMap(([id, fields]) => {
      const record = fields ? toRecord([id, fields], this.account.name)[0] : undefined;
      const payload = record && payloadOf(record, this.endpoint, this.account.name);
      return payload ? [{ name: this.endpoint.name, data: payload, opts: { ...this.options, jobId: webhookJobId(this.endpoint.name, id) } }] : [];
    });
    if (jobs.length > 0) await this.queue.addBulk(jobs);
    await this.account.redis.xack(this.key, this.group, ...entries.map(([id]) => id));
  }

  /** Stops reading; what was read and not yet queued stays pending in the group, for this or another process. */
  async close(): Promise<void> {
    this.stopped = true;
    this.reader.disconnect();
    await this.loop;
  }
}
