import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The `livequeue` command as installed: the package's bin, which runs the compiled JavaScript in dist/. */
export const CLI = fileURLToPath(new URL('../../bin/livequeue.js', import.meta.url));
const TSX_LOADER = 'tsx';

export interface Proc {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** Peak resident set size so far (VmHWM), in MB. */
  peakRssMb(): number;
  /** User + system CPU time so far, in ms. */
  cpuMs(): number;
}

const CLOCK_TICKS_PER_SECOND = 100;

function readProc(pid: number | undefined, file: string): string {
  if (!pid) return '';
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Starts a Node process: a compiled script (a .js path under dist/, as
 * deployed), a TypeScript script (a .ts path, through tsx), or the
 * `livequeue` command (`args[0]` is one of its commands).
 */
export function start(args: string[], env: Record<string, string>, options: { input?: string; nodeFlags?: string[] } = {}): Proc {
  const first = args[0] ?? '';
  const script = first.endsWith('.js') ? args : first.endsWith('.ts') ? ['--import', TSX_LOADER, ...args] : [CLI, ...args];
  const argv = [...(options.nodeFlags ?? []), ...script];
  const input = options.input;
  const child = spawn(process.execPath, argv, {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  if (input !== undefined) child.stdin!.end(input);
  else child.stdin!.end();
  let peak = 0;
  let cpu = 0;
  const sample = () => {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readProc(child.pid, 'status'));
    if (hwm) peak = Math.max(peak, Number(hwm[1]) / 1024);
    const stat = readProc(child.pid, 'stat');
    if (stat) {
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
    }
  };
  const timer = setInterval(sample, 100);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve(code);
    }),
  );
  return { child, output: () => output, exited, peakRssMb: () => (sample(), peak), cpuMs: () => (sample(), cpu) };
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function stop(procs: Proc[]): Promise<void> {
  for (const p of procs) p.child.kill('SIGTERM');
  await Promise.race([Promise.all(procs.map((p) => p.exited)), new Promise((r) => setTimeout(r, 10_000))]);
  for (const p of procs) p.child.kill('SIGKILL');
}
