import { z } from 'zod';

import { API_VERSION, OPERATION_INFO, OPERATIONS, type Operation } from '../catalog/operations.ts';

/**
 * The API actions the simulator answers: every operation the queue drives
 * (the catalog's), and the blacklist's read (DescribeLiveStreamsBlockList).
 */
export const ACTIONS = [...OPERATIONS, 'DescribeLiveStreamsBlockList'] as const;
export type Action = (typeof ACTIONS)[number];
export { API_VERSION };

export function isAction(value: string): value is Action {
  return (ACTIONS as readonly string[]).includes(value);
}

const rate = z.number().min(0).max(1);
const positiveInt = z.number().int().positive();

/**
 * What every call meets during an outage: an error code (InternalError by
 * default) with its status, or with `html`, a gateway's HTML error page of
 * that status (whose body the client cannot read as JSON).
 */
const outageAnswer = {
  code: z.string().min(1).optional(),
  status: z.number().int().min(400).max(599).optional(),
  html: z.boolean().optional(),
};

/** A partial change to the fault settings; an outage is given as an end time or a duration from now. */
export const faultsInputSchema = z
  .object({
    internalErrorRate: rate,
    serviceUnavailableRate: rate,
    dropConnectionRate: rate,
    dropAfterEffectRate: rate,
    /** A share of calls answered Throttling.User at random, whatever the quota: jitter as the client cannot see it. */
    throttleRate: rate,
    outage: z.union([
      z.object({ untilMs: z.number(), ...outageAnswer }).strict(),
      z.object({ durationMs: z.number().positive(), ...outageAnswer }).strict(),
      z.null(),
    ]),
  })
  .strict()
  .partial();
export type FaultsInput = z.input<typeof faultsInputSchema>;

/** Answers `code` to calls of `action` whose params include all of `match`, `times` times (default: forever). */
export const scriptRuleSchema = z
  .object({
    action: z.enum(ACTIONS),
    match: z.record(z.string(), z.string()).optional(),
    code: z.string().min(1),
    status: z.number().int().min(400).max(599),
    message: z.string().optional(),
    times: positiveInt.optional(),
    /** Sent as x-acs-retry-after, e.g. to script a Throttling answer. */
    retryAfterMs: z.number().int().nonnegative().optional(),
    /** Answer a gateway's HTML error page of `status` instead of a JSON body. */
    html: z.boolean().optional(),
  })
  .strict();
export type ScriptRule = z.input<typeof scriptRuleSchema>;

/** Each operation's quota, by default its API page's (the catalog's defaultQps). */
const qpsOf = (operation: Operation) => positiveInt.default(OPERATION_INFO[operation].defaultQps);
const operationQps = Object.fromEntries(OPERATIONS.map((op) => [op, qpsOf(op)])) as Record<Operation, ReturnType<typeof qpsOf>>;

export const optionsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 picks a free port. */
    port: z.number().int().min(0).max(65_535).default(0),
    /** AccessKey id -> secret. */
    accessKeys: z
      .record(z.string().min(1), z.string().min(1))
      .refine((keys) => Object.keys(keys).length > 0, 'at least one AccessKey is required')
      .default({ 'sim-access-key-id': 'sim-access-key-secret' }),
    /** Per AccessKey and per action, in a strict rolling second. */
    qps: z
      .object({
        ...operationQps,
        DescribeLiveStreamsBlockList: positiveInt.default(50),
      })
      .strict()
      .prefault({}),
    /** Backend time added to every call that passes throttling; uniform in [min, max]. */
    latencyMs: z
      .object({ min: z.number().int().nonnegative().default(0), max: z.number().int().nonnegative().optional() })
      .strict()
      .transform(({ min, max }) => ({ min, max: max ?? min }))
      .refine(({ min, max }) => max >= min, 'latencyMs.max must not be below latencyMs.min')
      .prefault({}),
    blacklistCap: positiveInt.default(10_000),
    /** Most recent calls kept for calls() and maxCallsInAnyWindow(). */
    callLogLimit: positiveInt.default(200_000),
    faults: faultsInputSchema.prefault({}),
  })
  .strict();
export type LiveApiSimulatorOptions = z.input<typeof optionsSchema>;
export type ResolvedOptions = z.output<typeof optionsSchema>;
