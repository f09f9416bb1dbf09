import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { CallRecord } from '../../src/sim/index.ts';
import { startCli, waitForOutput, type RunningProcess } from './processes.ts';

/**
 * `livequeue simulate` in a process of its own, standing in for the API's
 * servers, which count arrivals on machines of their own.
 *
 * Here it shares two cores with the workers under test, Redis and the test
 * runner, and at normal priority the kernel could leave it unscheduled for
 * tens of milliseconds: measured under load, a request the worker had
 * finished writing was stamped 36 ms later, so that it counted in the next
 * rolling second. That delay is the test machine's, not the path to a real
 * API. So the simulator runs at real-time priority (SCHED_FIFO): it stamps
 * an arrival as soon as it can read it (3 ms at most under the same load),
 * while the workers keep competing for the CPU as they would in production.
 */
export interface SimulatorProcess {
  endpoint: string;
  process: RunningProcess;
  /** Every call the simulator received, optionally since an epoch-ms instant. */
  calls(since?: number): Promise<CallRecord[]>;
  /** A request to the simulator's control API (`/__sim/<path>`); with a body it is a POST. */
  control<T>(path: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}

let warned = false;

export async function startSimulatorProcess(args: string[], env: Record<string, string> = {}): Promise<SimulatorProcess> {
  const sim = startCli(['simulate', '--port', '0', ...args], env);
  const listening = /simulator listening on (\S+)/;
  await waitForOutput(sim, (o) => listening.test(o));
  const endpoint = listening.exec(sim.output())![1]!.replace(/\/$/, '');
  await raiseToRealTime(sim.child.pid!);

  const control = async <T>(path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${endpoint}/__sim/${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`simulator control ${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  };
  return {
    endpoint,
    process: sim,
    control,
    calls: async (since = 0) => (await control<{ calls: CallRecord[] }>(`calls?since=${since}&limit=100000`)).calls,
    async stop() {
      sim.child.kill('SIGTERM');
      await sim.exited;
    },
  };
}

/** Needs CAP_SYS_NICE (root has it here and in CI); without it the tests still run, with the caveat above. */
async function raiseToRealTime(pid: number): Promise<void> {
  try {
    await promisify(execFile)('chrt', ['--fifo', '--all-tasks', '--pid', '10', String(pid)]);
  } catch (error) {
    if (!warned) console.warn(`simulator left at normal priority (${(error as Error).message.split('\n')[0]}): its arrival stamps can lag on a busy machine`);
    warned = true;
  }
}
