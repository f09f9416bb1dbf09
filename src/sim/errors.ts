import { randomUUID } from 'node:crypto';

/** The answer the simulator has decided on, before it is written to the socket. */
export interface Answer {
  status: number;
  /** 'OK' on success, otherwise the error code in the body. */
  code: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
  /** Sent instead of the JSON body: a gateway's or proxy's HTML error page. */
  html?: string;
}

interface CatalogueEntry {
  status: number;
  message: string;
}

/**
 * Status and message of every code the simulator answers on its own. The
 * operation pages give codes and statuses; gateway codes (signature,
 * throttling, parameters) follow what Alibaba Cloud's gateway answers.
 */
const CATALOGUE = {
  // Gateway
  'InvalidAccessKeyId.NotFound': { status: 404, message: 'Specified access key is not found.' },
  SignatureDoesNotMatch: { status: 400, message: 'Specified signature is not matched with our calculation.' },
  'InvalidTimeStamp.Format': { status: 400, message: 'Specified time stamp or date value is not well formatted.' },
  'InvalidTimeStamp.Expired': { status: 400, message: 'Specified time stamp or date value is expired.' },
  SignatureNonceUsed: { status: 400, message: 'Specified signature nonce was used already.' },
  'InvalidAction.NotFound': { status: 404, message: 'Specified api is not found, please check your url and method.' },
  InvalidVersion: { status: 400, message: 'Specified parameter Version is not valid.' },
  'Throttling.User': { status: 400, message: 'Request was denied due to user flow control.' },
  MissingParameter: { status: 400, message: 'The input parameter that is mandatory for processing this request is not supplied.' },
  InvalidParameter: { status: 400, message: 'The specified parameter is not valid.' },
  InternalError: { status: 500, message: 'The request processing has failed due to backend service exception.' },
  ServiceUnavailable: { status: 503, message: 'The request has failed due to a temporary failure of the server.' },
  // ForbidLiveStream
  'InvalidResumeTime.Malformed': { status: 400, message: 'Specified parameter ResumeTime is not valid.' },
  'QuotaExceeded.Blacklist': { status: 400, message: 'Exceed max blacklist count limit' },
  ConfigAlreadyExists: { status: 400, message: 'Config has already exist.' },
  // StopLiveStreamMonitor
  'InvalidUserId.Malformed': { status: 400, message: 'Specified parameter UserId is not valid.' },
  'InvalidMonitorId.Malformed': { status: 400, message: 'Specified parameter MonitorId is not valid.' },
  StreamMonitorAlreadyStop: { status: 400, message: 'The stream monitor has already been stopped.' },
  IllegalOperation: { status: 401, message: 'Illegal operation.' },
  UserQuotaExceed: { status: 403, message: 'User quota exceeded.' },
  StreamMonitorNotExist: { status: 404, message: 'The stream monitor does not exist.' },
} satisfies Record<string, CatalogueEntry>;

const HOST_ID = 'live.aliyuncs.com';

export function newRequestId(): string {
  return randomUUID().toUpperCase();
}

function catalogueEntry(code: string): CatalogueEntry | undefined {
  return Object.hasOwn(CATALOGUE, code) ? CATALOGUE[code as keyof typeof CATALOGUE] : undefined;
}

export function success(requestId: string): Answer {
  return { status: 200, code: 'OK', body: { RequestId: requestId }, headers: {} };
}

/** An error answer shaped like Alibaba Cloud's: RequestId, HostId, Code, Message, Recommend. */
export function failure(
  requestId: string,
  code: string,
  override: { status?: number; message?: string } = {},
): Answer {
  const known = catalogueEntry(code);
  const status = override.status ?? known?.status ?? 400;
  const message = override.message ?? known?.message ?? code;
  return {
    status,
    code,
    body: {
      RequestId: requestId,
      HostId: HOST_ID,
      Code: code,
      Message: message,
      Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(code)}&product=live&requestId=${requestId}`,
    },
    headers: {},
  };
}

/** What a load balancer or gateway in front of the API answers when the backend is gone: HTML, no Code. */
export function gatewayPage(requestId: string, status: number): Answer {
  const title = `${status} ${status === 503 ? 'Service Temporarily Unavailable' : status === 502 ? 'Bad Gateway' : status === 403 ? 'Forbidden' : 'Error'}`;
  return {
    status,
    code: `HTTP${status}`,
    body: { RequestId: requestId },
    headers: {},
    html: `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n`,
  };
}

export function missingParameter(requestId: string, name: string): Answer {
  return failure(requestId, 'MissingParameter', {
    message: `The input parameter "${name}" that is mandatory for processing this request is not supplied.`,
  });
}

export function invalidParameter(requestId: string, name: string): Answer {
  return failure(requestId, 'InvalidParameter', { message: `The specified parameter "${name}" is not valid.` });
}
