import { OPERATION_INFO, type Operation } from '../catalog/operations.ts';

/**
 * What a call is about, as far as telling one bad group of jobs from a
 * failing operation goes: the domain and app of a ban or a lift (every
 * stream of a domain the account does not own fails alike), the MonitorId of
 * a monitor stop (every one differs). One code refusing one target again and
 * again is that target's; the same code across targets is the operation's.
 */
export function targetOf(operation: Operation, params: unknown): string {
  const p = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>;
  if (OPERATION_INFO[operation].subject === 'monitor') return String(p.MonitorId ?? '').toLowerCase();
  return `${String(p.DomainName ?? '').toLowerCase()}/${String(p.AppName ?? '')}`;
}
