import type { RedisClient } from '../redis.ts';
import { z } from 'zod';
import type { AlibabaLiveClient } from '../live/client.ts';
import { classifyFailure } from '../catalog/error-codes.ts';
import type { Operation } from '../catalog/operations.ts';
import type { ForbidParams, ResumeParams } from '../jobs/schemas.ts';
import { Pacer } from '../ratelimit/pacer.ts';
import type { TokenBucket } from '../ratelimit/token-bucket.ts';
import { LivequeueError } from '../errors.ts';

/**
 * How much room the account's stream blacklist has. The ForbidLiveStream
 * page caps it at 10,000 streams and asks users to watch the number of
 * disabled streams with DescribeLiveStreamsBlockList; this reads that number
 * for every domain the account bans in (recorded at enqueue) and every domain
 * the configuration names, paced through its own 50 QPS bucket, and keeps
 * the figures in Redis for status, metrics and the pre-flight warning.
 */
export const BLACKLIST_CAP = 10_000;

export const headroomSchema = z.object({
  account: z.string(),
  cap: z.number(),
  entries: z.number(),
  headroom: z.number(),
  domains: z.array(z.object({ domain: z.string(), entries: z.number() })),
  /**
   * Domains the API refused to read (a typo banned once, a domain removed
   * from the account): left out of `entries`, each with the API's code. A
   * recorded domain the API says does not exist is forgotten (`forgotten`);
   * a configured one is reported on every read until the configuration changes.
   */
  skipped: z.array(z.object({ domain: z.string(), code: z.string(), message: z.string(), forgotten: z.boolean() })).default([]),
  checkedAt: z.string(),
  /**
   * Bans this product applied without ResumeTime that have not run out: each
   * lasts six months and holds its place on the list that long. Counted as
   * they are applied and lifted, not read from the API (which does not say).
   */
  permanentBans: z.number().default(0),
});
export type Headroom = z.output<typeof headroomSchema>;

export interface BlacklistWarning {
  /** Bans of this batch that add to the blacklist. */
  bans: number;
  headroom: number;
  /** Bans that would meet QuotaExceeded.Blacklist and wait. */
  wouldWait: number;
  message: string;
}

export class BlacklistReadError extends LivequeueError {
  constructor(domain: string, code: string, message: string) {
    super('blacklist-read', `DescribeLiveStreamsBlockList for ${domain} failed: ${code} (${message})`);
  }
}

/** The API's answer for a domain the account does not have; such a domain has no blacklist to read. */
const UNKNOWN_DOMAIN_CODES = new Set(['InvalidDomain.NotFound']);

/**
 * The API refused this one domain (a well-formed answer about the request:
 * a parameter error, a domain it does not know, a code nobody listed), as
 * opposed to a failure of the credentials, the account or the service, after
 * which no figure of this read can be trusted.
 */
function refusedDomain(failure: { code: string; httpStatus?: number; network: boolean; bodyNotJson?: boolean; requestId?: string }): boolean {
  if (UNKNOWN_DOMAIN_CODES.has(failure.code)) return true;
  // What the error-code table says a job would do with this answer: a dead letter (or a refusal) is about the request alone.
  const outcome: string = classifyFailure(failure).outcome;
  return outcome === 'dead-letter' || outcome === 'refused';
}

/** A ban without ResumeTime lasts six months (ForbidLiveStream page). */
const PERMANENT_BAN_MS = 183 * 86_400_000;

const streamOf = (p: { DomainName: string; AppName: string; StreamName: string }) => `${p.DomainName.toLowerCase()}/${p.AppName}/${p.StreamName}`;

export class BlacklistHeadroom {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: { domains: string; cache: string; longBans: string },
    private readonly account: string,
    private readonly configuredDomains: readonly string[],
    private readonly bucket: TokenBucket,
  ) {}

  /** Remembers the domains a batch bans in, so their blacklists are read. */
  async noteDomains(domains: Iterable<string>): Promise<void> {
    const list = [...new Set(domains)];
    if (list.length > 0) await this.redis.sadd(this.keys.domains, ...list);
  }

  async domains(): Promise<string[]> {
    const recorded = await this.redis.smembers(this.keys.domains);
    return [...new Set([...this.configuredDomains, ...recorded])].sort();
  }

  /** Keeps the count of permanent bans: a ban applied without ResumeTime, or lifted by ResumeLiveStream. */
  async noteApplied(operation: Operation, params: unknown): Promise<void> {
    if (operation === 'ResumeLiveStream') {
      await this.redis.zrem(this.keys.longBans, streamOf(params as ResumeParams));
      return;
    }
    const ban = params as ForbidParams;
    if (operation !== 'ForbidLiveStream' || ban.Oneshot === 'yes' || ban.ResumeTime !== undefined) return;
    await this.redis.zadd(this.keys.longBans, Date.now() + PERMANENT_BAN_MS, streamOf(ban));
  }

  async permanentBans(): Promise<number> {
    const [, [, count]] = (await this.redis.multi().zremrangebyscore(this.keys.longBans, '-inf', Date.now()).zcard(this.keys.longBans).exec()) as [unknown, [null, number]];
    return count;
  }

  /** The figures from the last read, if any, with the permanent bans as of now. */
  async cached(): Promise<Headroom | undefined> {
    const [raw, permanentBans] = await Promise.all([this.redis.get(this.keys.cache), this.permanentBans()]);
    if (raw === null) return undefined;
    const parsed = headroomSchema.safeParse(JSON.parse(raw));
    return parsed.success ? { ...parsed.data, permanentBans } : undefined;
  }

  /**
   * Reads every domain's blacklist size now (one paced call per domain) and
   * caches the result. A domain the API refuses is skipped and reported, and
   * the others are read all the same; a failure that is not about the domain
   * (credentials, permissions, the network, the service) fails the whole read,
   * as its figures could not be trusted.
   */
  async refresh(client: Pick<AlibabaLiveClient, 'describeBlockList'>): Promise<Headroom> {
    const pacer = new Pacer(this.bucket);
    const domains: Headroom['domains'] = [];
    const skipped: Headroom['skipped'] = [];
    const configured = new Set(this.configuredDomains);
    for (const domain of await this.domains()) {
      let page;
      for (;;) {
        // At the front of the line (priority 0), this caller is never asked to give way.
        const grant = await pacer.acquire();
        if (grant.kind !== 'slot') continue;
        // TotalNum is all we need: one stream a page keeps the answer small.
        page = await client.describeBlockList(domain, 1, 1, { sendBy: grant.sendBy });
        if (page.ok || !('notSent' in page && page.notSent)) break;
      }
      if (page.ok) {
        domains.push({ domain, entries: page.totalNum });
        continue;
      }
      if (!('code' in page) || !refusedDomain(page)) throw new BlacklistReadError(domain, 'code' in page ? page.code : 'NotSent', 'message' in page ? page.message : '');
      // A domain only a batch named, and which the account does not have: no later read should ask for it again.
      const forgotten = UNKNOWN_DOMAIN_CODES.has(page.code) && !configured.has(domain) && (await this.redis.srem(this.keys.domains, domain)) > 0;
      skipped.push({ domain, code: page.code, message: page.message, forgotten });
    }
    const entries = domains.reduce((n, d) => n + d.entries, 0);
    const headroom: Headroom = {
      account: this.account, cap: BLACKLIST_CAP, entries, headroom: Math.max(0, BLACKLIST_CAP - entries), domains, skipped,
      checkedAt: new Date().toISOString(), permanentBans: await this.permanentBans(),
    };
    await this.redis.set(this.keys.cache, JSON.stringify(headroom));
    return headroom;
  }

  /** A warning when a batch's bans that add to the blacklist exceed the last known headroom. */
  async preflight(bans: number): Promise<BlacklistWarning | undefined> {
    const known = await this.cached();
    if (!known || bans <= known.headroom) return undefined;
    const wouldWait = bans - known.headroom;
    return {
      bans,
      headroom: known.headroom,
      wouldWait,
      message:
        `${bans} bans add to the blacklist but it has room for ${known.headroom} (${known.entries} of ${known.cap}, checked ${known.checkedAt}): ` +
        `about ${wouldWait} would wait on QuotaExceeded.Blacklist. Use Oneshot=yes (interrupt only) or a shorter ResumeTime, or free room first`,
    };
  }
}
