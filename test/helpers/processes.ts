import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `livequeue` command as installed: the package's bin, which runs the compiled JavaScript (see compiled-cli.ts). */
export const CLI = fileURLToPath(new URL('../../bin/livequeue.js', import.meta.url));

export interface RunningProcess {
  child: ChildProcess;
  /** Standard output and error, interleaved as they came. */
  output(): string;
  stdout(): string;
  exited: Promise<number | null>;
}

/** Runs the real `livequeue` command as a child process, collecting its output. */
export function startCli(args: string[], env: Record<string, string>, input?: string): RunningProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => {
    output += d.toString();
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  child.stdin!.end(input ?? '');
  // 'close' comes after the output streams have ended, so no output is missed.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, output: () => output, stdout: () => stdout, exited };
}

/** Runs the command to its end. */
export async function runCli(args: string[], env: Record<string, string>, input?: string): Promise<{ code: number | null; output: string; stdout: string }> {
  const run = startCli(args, env, input);
  const code = await run.exited;
  return { code, output: run.output(), stdout: run.stdout() };
}

/** Resolves once `predicate` holds for the process output. */
export async function waitForOutput(p: RunningProcess, predicate: (output: string) => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate(p.output())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for output; got:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
