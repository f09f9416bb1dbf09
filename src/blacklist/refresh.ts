import type { RedisClient } from '../redis.ts';
import type { Logger } from '../log.ts';
import { blacklistRefreshLeaseKey } from '../queue/names.ts';
import type { BlacklistHeadroom } from './headroom.ts';

export interface RefreshParts {
  name: string;
  prefix: string;
  redis: RedisClient;
  blacklist: Pick<BlacklistHeadroom, 'refresh'>;
}

/**
 * Reads an account's blacklist size now and every `everyMs`; one worker
 * process per account does it at a time (a lease in Redis). Returns a stop function.
 */
export function startBlacklistRefresh(account: RefreshParts, client: Parameters<BlacklistHeadroom['refresh']>[0], everyMs: number, log: Logger): () => void {
  const lease = blacklistRefreshLeaseKey(account.prefix);
  const refresh = async () => {
    const mine = await account.redis.set(lease, '1', 'PX', Math.max(1000, everyMs - 1000), 'NX');
    if (mine !== 'OK') return;
    const headroom = await account.blacklist.refresh(client);
    log.info({ account: account.name, entries: headroom.entries, headroom: headroom.headroom }, 'blacklist size read');
    for (const { domain, code, forgotten } of headroom.skipped) log.warn({ account: account.name, domain, code, forgotten }, 'blacklist of a domain not read: the API refused the domain');
  };
  const run = () => void refresh().catch((error: Error) => log.warn({ account: account.name, err: error.message }, 'could not read the blacklist size'));
  run();
  const timer = setInterval(run, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
