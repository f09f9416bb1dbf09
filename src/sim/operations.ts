import type { Blacklist } from './blacklist.ts';
import { failure, invalidParameter, missingParameter, success, type Answer } from './errors.ts';
import type { Monitors } from './monitors.ts';
import type { Action } from './options.ts';
import { addMonths, parseTimestamp } from './time.ts';

/** What the two operations act on. */
export interface LiveState {
  blacklist: Blacklist;
  monitors: Monitors;
}

type Params = Readonly<Record<string, string>>;
type Operation = (params: Params, requestId: string, state: LiveState, now: number) => Answer;

/** A ban without ResumeTime lasts 6 months (ForbidLiveStream page). */
const DEFAULT_BAN_MONTHS = 6;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The first required parameter that is absent or empty. */
function firstMissing(params: Params, names: readonly string[]): string | undefined {
  return names.find((name) => !params[name]);
}

const forbidLiveStream: Operation = (params, requestId, { blacklist }, now) => {
  const missing = firstMissing(params, ['DomainName', 'AppName', 'StreamName', 'LiveStreamType']);
  if (missing) return missingParameter(requestId, missing);
  // Only stream ingest can be disabled today.
  if (params.LiveStreamType !== 'publisher') return invalidParameter(requestId, 'LiveStreamType');
  const oneshot = params.Oneshot ?? 'no';
  if (oneshot !== 'yes' && oneshot !== 'no') return invalidParameter(requestId, 'Oneshot');
  const resumeAt = params.ResumeTime === undefined ? undefined : parseTimestamp(params.ResumeTime);
  if (params.ResumeTime !== undefined && resumeAt === undefined) return failure(requestId, 'InvalidResumeTime.Malformed');

  // Oneshot only interrupts the current session: nothing is listed, so no quota or duplicate applies.
  if (oneshot === 'yes') return success(requestId);

  const stream = { domain: params.DomainName!, app: params.AppName!, stream: params.StreamName! };
  switch (blacklist.add(stream, resumeAt ?? addMonths(now, DEFAULT_BAN_MONTHS), now)) {
    case 'added':
      return success(requestId);
    case 'exists':
      return failure(requestId, 'ConfigAlreadyExists');
    case 'full':
      return failure(requestId, 'QuotaExceeded.Blacklist');
  }
};

const stopLiveStreamMonitor: Operation = (params, requestId, { monitors }) => {
  const id = params.MonitorId;
  if (!id) return missingParameter(requestId, 'MonitorId');
  if (!UUID.test(id)) return failure(requestId, 'InvalidMonitorId.Malformed');
  switch (monitors.stop(id)) {
    case 'stopped':
      return success(requestId);
    case 'already-stopped':
      return failure(requestId, 'StreamMonitorAlreadyStop');
    case 'not-found':
      return failure(requestId, 'StreamMonitorNotExist');
  }
};

/** The streams on the account's blacklist for one domain, a page at a time (PageSize 1-3000, default 2000). */
const describeLiveStreamsBlockList: Operation = (params, requestId, { blacklist }, now) => {
  const domain = params.DomainName;
  if (!domain) return missingParameter(requestId, 'DomainName');
  const pageNum = params.PageNum === undefined ? 1 : Number(params.PageNum);
  const pageSize = params.PageSize === undefined ? 2000 : Number(params.PageSize);
  if (!Number.isInteger(pageNum) || pageNum < 1) return invalidParameter(requestId, 'PageNum');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 3000) return invalidParameter(requestId, 'PageSize');
  const urls = blacklist.list(domain, now);
  const page = urls.slice((pageNum - 1) * pageSize, pageNum * pageSize);
  return {
    status: 200,
    code: 'OK',
    body: {
      RequestId: requestId,
      DomainName: domain,
      PageNum: String(pageNum),
      PageSize: String(pageSize),
      TotalNum: String(urls.length),
      TotalPage: String(Math.ceil(urls.length / pageSize)),
      StreamUrls: { StreamUrl: page },
    },
    headers: {},
  };
};

/** Lifts a ban (LiveStreamType=publisher). Lifting a stream that is not banned succeeds too. */
const resumeLiveStream: Operation = (params, requestId, { blacklist }, now) => {
  const missing = firstMissing(params, ['DomainName', 'AppName', 'StreamName', 'LiveStreamType']);
  if (missing) return missingParameter(requestId, missing);
  if (params.LiveStreamType !== 'publisher') return invalidParameter(requestId, 'LiveStreamType');
  blacklist.remove({ domain: params.DomainName!, app: params.AppName!, stream: params.StreamName! }, now);
  return success(requestId);
};

export const OPERATIONS: Readonly<Record<Action, Operation>> = {
  ForbidLiveStream: forbidLiveStream,
  StopLiveStreamMonitor: stopLiveStreamMonitor,
  DescribeLiveStreamsBlockList: describeLiveStreamsBlockList,
  ResumeLiveStream: resumeLiveStream,
};
