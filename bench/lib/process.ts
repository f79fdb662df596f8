// Child processes for benchmarks: started from this repo, found by the line they print, measured
// through /proc, and always stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export async function startChild(
  command: string,
  args: string[],
  ready: (line: string) => string | undefined,
  timeoutMs = 15_000,
): Promise<{ proc: ChildProcess; value: string; stop(): Promise<void> }> {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let buffered = '';
  const value = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command} not ready within ${timeoutMs} ms:\n${buffered}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      for (const line of buffered.split('\n')) {
        const v = ready(line);
        if (v !== undefined) {
          clearTimeout(timer);
          resolve(v);
          return;
        }
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${command} exited (${code}):\n${buffered}`)));
  });
  // Keep draining so that a chatty child never blocks on a full pipe.
  proc.stdout!.removeAllListeners('data').resume();
  proc.stderr!.removeAllListeners('data').resume();
  return {
    proc,
    value,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      children.delete(proc);
    },
  };
}

/** Peak resident set size of a process in MiB (VmHWM). */
export function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

const REPO = new URL('../../../', import.meta.url).pathname;

/** Starts `bin/dcnet master ARGS` and resolves once it listens; `value` is its URL. */
export function startDcnetMaster(args: string[]): ReturnType<typeof startChild> {
  return startChild(process.execPath, [`${REPO}bin/dcnet`, 'master', ...args], (l) =>
    l.includes('overlay master listening') ? (JSON.parse(l) as { url: string }).url : undefined,
  );
}
