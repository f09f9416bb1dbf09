import { z } from 'zod';
import type { Operation } from '../catalog/operations.ts';

/**
 * Job parameters exactly as the API pages name them. These schemas guard every
 * boundary (library, CLI files, HTTP, and the worker reading Redis back), and
 * their messages name the field and the rule so a user can fix the input.
 */

const RESUME_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/** Clocks differ a little between producers, workers and the API. */
const RESUME_TIME_CLOCK_ALLOWANCE_MS = 60_000;
/** The API names no maximum; a ban past ten years is a typo (9999-12-31), not a decision. */
const RESUME_TIME_MAX_AHEAD_MS = 10 * 366 * 86_400_000;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DOMAIN = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const REGION = /^[a-z]{2,}(-[a-z0-9]+)+$/;
// Stream and app names appear in ingest URLs; the console allows letters,
// digits, '-', '_' and '.'; anything else cannot name a real stream.
const NAME = /^[A-Za-z0-9_.-]+$/;

function isRealUtcInstant(value: string): boolean {
  const parsed = new Date(value);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().replace('.000Z', 'Z') === value;
}

/** A key as a person can read it in a message, even an empty or blank one. */
const showKey = (key: string) => (/^[A-Za-z0-9_.-]+$/.test(key) ? key : JSON.stringify(key));

function unknownFields(issue: { code?: string; keys?: string[] }): string | undefined {
  return issue.code === 'unrecognized_keys' ? `unknown field(s) ${(issue.keys ?? []).map(showKey).join(', ')}` : undefined;
}

const regionId = z
  .string({ error: 'RegionId must be a string' })
  .regex(REGION, 'RegionId must look like a region id, e.g. cn-shanghai')
  .optional();

const name = (field: string, max: number) =>
  z
    .string({ error: `${field} is required and must be a string` })
    .min(1, { message: `${field} must not be empty`, abort: true })
    .max(max, { message: `${field} must be at most ${max} characters`, abort: true })
    .regex(NAME, `${field} may contain only letters, digits, '-', '_' and '.'`);

export const forbidParamsSchema = z
  .strictObject(
    {
      RegionId: regionId,
      DomainName: z
        .string({ error: 'DomainName is required and must be a string' })
        .regex(DOMAIN, 'DomainName must be an ingest domain name, e.g. demo.aliyundoc.com'),
      AppName: name('AppName', 255),
      StreamName: name('StreamName', 255),
      LiveStreamType: z
        .literal('publisher', { error: 'LiveStreamType must be "publisher"' })
        .default('publisher'),
      Oneshot: z.enum(['yes', 'no'], { error: 'Oneshot must be "yes" or "no"' }).optional(),
      ResumeTime: z
        .string({ error: 'ResumeTime must be a string' })
        .refine((v) => RESUME_TIME.test(v) && isRealUtcInstant(v), { abort: true, message: 'ResumeTime must be yyyy-MM-ddTHH:mm:ssZ in UTC' })
        // Checked again by the worker: a ban whose ResumeTime passed while it
        // waited (a hold, a backlog) would end at once, so it is dead-lettered
        // as invalid instead of being sent.
        .refine((v) => Date.parse(v) >= Date.now() - RESUME_TIME_CLOCK_ALLOWANCE_MS, { abort: true, message: 'ResumeTime must be in the future: a ban that ends at once does nothing' })
        .refine((v) => Date.parse(v) <= Date.now() + RESUME_TIME_MAX_AHEAD_MS, 'ResumeTime must be at most 10 years ahead (leave it out for the API\'s default six months)')
        .optional(),
    },
    { error: unknownFields },
  );

export const stopMonitorParamsSchema = z.strictObject(
  {
    RegionId: regionId,
    MonitorId: z
      .string({ error: 'MonitorId is required and must be a string' })
      .regex(UUID, 'MonitorId must be a UUID'),
  },
  { error: unknownFields },
);

/** Lifts a ban: the stream's coordinates, as ForbidLiveStream named them. */
export const resumeParamsSchema = forbidParamsSchema.pick({ RegionId: true, DomainName: true, AppName: true, StreamName: true, LiveStreamType: true });

export type ForbidParams = z.output<typeof forbidParamsSchema>;
export type StopMonitorParams = z.output<typeof stopMonitorParamsSchema>;
export type ResumeParams = z.output<typeof resumeParamsSchema>;

/** The ResumeLiveStream that lifts a ban: the same stream, in the same region. */
export function resumeParamsOf(ban: ForbidParams): ResumeParams {
  const { RegionId, DomainName, AppName, StreamName } = ban;
  return { ...(RegionId ? { RegionId } : {}), DomainName, AppName, StreamName, LiveStreamType: 'publisher' };
}

export interface ParamsByOperation {
  ForbidLiveStream: ForbidParams;
  StopLiveStreamMonitor: StopMonitorParams;
  ResumeLiveStream: ResumeParams;
}
export type AnyParams = ParamsByOperation[Operation];

export const PARAMS_SCHEMA = {
  ForbidLiveStream: forbidParamsSchema,
  StopLiveStreamMonitor: stopMonitorParamsSchema,
  ResumeLiveStream: resumeParamsSchema,
} as const;

/** One field-level problem: which field, and which rule it broke. */
export interface FieldError {
  field: string;
  message: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export function parseParams<O extends Operation>(operation: O, input: unknown): ParseResult<ParamsByOperation[O]> {
  const result = PARAMS_SCHEMA[operation].safeParse(input);
  if (result.success) return { ok: true, value: result.data as ParamsByOperation[O] };
  return { ok: false, errors: toFieldErrors(result.error) };
}

export function toFieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.map(String).join('.') : issue.code === 'unrecognized_keys' ? issue.keys.map(showKey).join(',') : '(record)',
    message: issue.code === 'invalid_type' && issue.path.length === 0 ? 'a record must be an object of API parameters' : issue.message,
  }));
}

export function describeFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => e.message).join('; ');
}
