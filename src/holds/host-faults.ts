import { defineScripts } from '../redis-scripts.ts';
import { z } from 'zod';
import type { RedisClient } from '../redis.ts';
import type { ProcessIdentity } from '../process-identity.ts';
import { hostFaultsKey, lastSuccessKey } from '../queue/names.ts';

/**
 * The account's host-local faults, shared through Redis: which processes hold
 * themselves because their own credentials, signature or clock fail, and
 * whether a fault is wider than one host (see host-faults.lua).
 */

export const hostFaultSchema = z.object({
  host: z.string(),
  pid: z.number(),
  code: z.string(),
  family: z.string(),
  since: z.number(),
  seenAt: z.number(),
});
export type HostFault = z.output<typeof hostFaultSchema> & { process: string };

export type HostFaultVerdict = { scope: 'local'; since: number } | { scope: 'account'; why: 'several-processes' | 'no-process-succeeds'; since: number };

/** The code's family: InvalidTimeStamp.Expired and InvalidTimeStamp.Format are one kind of fault. */
export function faultFamily(code: string): string {
  return code.split('.')[0]!;
}

export class HostFaults {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly account: string,
    /** A fault record not refreshed this long belongs to a process that stopped or recovered. */
    private readonly staleMs: number,
    /** How long one failing process waits for another to succeed before the account is held. */
    private readonly graceMs: number,
  ) {
    defineScripts(redis);
  }

  async report(process: ProcessIdentity, code: string): Promise<HostFaultVerdict> {
    const reply = (await this.run('report', process.id, process.host, process.pid, code, faultFamily(code), this.staleMs, this.graceMs)) as [string, string | number, (string | number)?];
    if (reply[0] === 'account') return { scope: 'account', why: reply[1] as 'several-processes' | 'no-process-succeeds', since: Number(reply[2]) };
    return { scope: 'local', since: Number(reply[1]) };
  }

  async clear(process: ProcessIdentity): Promise<void> {
    await this.run('clear', process.id);
  }

  /** The processes holding themselves now (records refreshed within the staleness window). */
  async list(now = Date.now()): Promise<HostFault[]> {
    const raw = await this.redis.hgetall(hostFaultsKey(this.prefix, this.account));
    return Object.entries(raw).flatMap(([process, json]) => {
      const parsed = hostFaultSchema.safeParse(safeJson(json));
      return parsed.success && parsed.data.seenAt >= now - this.staleMs ? [{ process, ...parsed.data }] : [];
    });
  }

  private run(command: string, ...args: (string | number)[]): Promise<unknown> {
    return this.redis.livequeueHostFaults(hostFaultsKey(this.prefix, this.account), lastSuccessKey(this.prefix, this.account), command, Date.now(), ...args);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
