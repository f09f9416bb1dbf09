import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * Who this process is, as other processes and the operator see it: the host,
 * the pid, and a few random characters (pids repeat across containers and
 * restarts). Host-local faults and successes are recorded under it.
 */
export interface ProcessIdentity {
  id: string;
  host: string;
  pid: number;
}

export const THIS_PROCESS: ProcessIdentity = {
  id: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
  host: hostname(),
  pid: process.pid,
};
