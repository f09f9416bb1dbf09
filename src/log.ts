import { pino, type Logger } from 'pino';

/**
 * Structured logs. Our own code never logs credentials; the redaction list is
 * a second line of defence against an object that carries one by accident.
 */
export const REDACTED_PATHS = [
  'accessKeySecret', '*.accessKeySecret', 'accessKeyId', '*.accessKeyId', 'securityToken', '*.securityToken',
  'credential', '*.credential', 'authorization', '*.authorization', '*.headers.authorization', '*.headers.Authorization',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { pid: process.pid } };
  return destination ? pino(options, destination as never) : pino(options);
}

export type { Logger };
