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

/** Whom an act or an outcome is about, as the audit trail and `livequeue history` name it. */
export type Subject = { stream: string } | { monitorId: string };

/** The stream (`domain/app/stream`, the domain in lower case) or the MonitorId a job is about. */
export function subjectOf(operation: Operation, params: unknown): Subject {
  const p = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>;
  if (OPERATION_INFO[operation].subject === 'monitor') return { monitorId: String(p.MonitorId ?? '').toLowerCase() };
  return { stream: `${String(p.DomainName ?? '').toLowerCase()}/${String(p.AppName ?? '')}/${String(p.StreamName ?? '')}` };
}

/** One string per subject, for the audit trail's index. */
export function subjectKey(subject: Subject): string {
  return 'stream' in subject ? `stream:${subject.stream}` : `monitor:${subject.monitorId}`;
}

/** `DOMAIN/APP/STREAM` as typed by a user, or why it is not one. */
export function parseStreamSubject(text: string): Subject | string {
  const parts = text.split('/');
  if (parts.length !== 3 || parts.some((part) => part.length === 0)) return `a stream is DOMAIN/APP/STREAM, three non-empty parts (got "${text}")`;
  return { stream: `${parts[0]!.toLowerCase()}/${parts[1]}/${parts[2]}` };
}
