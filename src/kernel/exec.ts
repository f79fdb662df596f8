// Runs the system tools dcnet drives (ip, bridge, nft, CNI plugins) with a timeout, stdin and a
// clear error that names the command and what it printed. Internal to src/kernel/ (and the test
// bed in src/sim/, through raw.ts): everything else hands kernel/ typed commands, never argv or
// command text (eslint no-restricted-imports and test/unit/kernel-boundary.test.ts keep it so).
import { spawn } from 'node:child_process';
import { quote } from '../net/index.js';

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

/** A typed command carried a value that is not what its type promises (a hostile string cast into
 *  a branded type, a number out of range): refused before anything runs. */
export class KernelInputError extends Error {
  constructor(
    readonly command: string,
    readonly field: string,
    readonly value: unknown,
  ) {
    super(`refusing to run ${command}: ${field} ${quote(value)} is not valid there`);
    this.name = 'KernelInputError';
  }
}

/** Re-checks one field of a typed command where it is rendered (defence in depth). */
export function need<T>(ok: (v: unknown) => v is T, value: unknown, command: string, field: string): T {
  if (!ok(value)) throw new KernelInputError(command, field, value);
  return value;
}

/** An integer field in [min, max]. */
export function needInt(value: unknown, min: number, max: number, command: string, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new KernelInputError(command, field, value);
  return value;
}

/** A field that must be one of a fixed set (an enum): the only strings kernel/ passes through. */
export function needOneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
  command: string,
  field: string,
): T {
  if (!(allowed as readonly unknown[]).includes(value)) throw new KernelInputError(command, field, value);
  return value as T;
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

const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  if (opts.netns !== undefined && !NETNS_NAME.test(opts.netns))
    return Promise.reject(new KernelInputError(cmd, 'netns', opts.netns));
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
