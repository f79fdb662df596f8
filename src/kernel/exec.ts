// Runs the system tools dcnet drives (ip, bridge, nft, CNI plugins) with a timeout, stdin and a
// clear error that names the command and what it printed.
import { spawn } from 'node:child_process';

export class KernelError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
    readonly stdout = '',
  ) {
    super(
      `${command}: ${code === null ? 'timed out or was killed' : `exit ${code}`}: ${stderr.trim() || stdout.trim() || '(no output)'}`,
    );
    this.name = 'KernelError';
  }
}

export interface RunOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Run inside this network namespace (a name under /run/netns), through nsenter. */
  readonly netns?: string;
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, argv] = opts.netns
    ? ['nsenter', [`--net=/run/netns/${opts.netns}`, '--', cmd, ...args]]
    : [cmd, args];
  const shown = [opts.netns ? `(netns ${opts.netns}) ${cmd}` : cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new KernelError(shown, null, err.message));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new KernelError(shown, code, stderr, stdout));
    });
    child.stdin.on('error', () => {}); // a tool that exits early closes its stdin
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs a tool whose stdout is JSON (`ip -j`, `bridge -j`, `nft -j`); empty output is `[]`. */
export async function runJson<T>(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<T> {
  const { stdout } = await run(cmd, args, opts);
  const text = stdout.trim();
  if (text === '') return [] as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new KernelError(`${cmd} ${args.join(' ')}`, 0, `output is not JSON: ${text.slice(0, 200)}`);
  }
}
