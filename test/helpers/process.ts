// Starts `bin/dcnet` subcommands as real processes for integration tests, and makes sure every
// process a test started is gone when the test file ends (also when it fails).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after } from 'node:test';
import { REPO_ROOT } from './fixtures.js';
import { testPki } from './pki.js';
import type { ControlClient, TlsFiles } from '../../src/pki/index.js';

export const DCNET = join(REPO_ROOT, 'bin', 'dcnet');

const started = new Set<ChildProcess>();
after(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

export interface RunningProcess {
  readonly proc: ChildProcess;
  /** Log lines (JSON parsed where possible) seen on stderr so far. */
  readonly logs: Record<string, unknown>[];
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startDcnet(args: string[]): RunningProcess {
  const proc = spawn(process.execPath, [DCNET, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(proc);
  const logs: Record<string, unknown>[] = [];
  let err = '';
  let partial = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => {
    err += chunk;
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
    }
  });
  proc.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      started.delete(proc);
      resolve({ code, signal });
    }),
  );
  return {
    proc,
    logs,
    stderr: () => err,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/** Waits until a log line matching `pred` arrives (stderr is read asynchronously). */
export async function waitForLog(
  p: RunningProcess,
  pred: (line: Record<string, unknown>) => boolean,
  timeoutMs = 5000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = p.logs.find(pred);
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no matching log line within ${timeoutMs} ms:\n${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The certificate every master a test starts runs with (the test process's CA, 127.0.0.1). */
export async function masterTlsDir(): Promise<string> {
  return (await testPki()).dir('master', ['127.0.0.1']);
}

export async function masterTls(): Promise<TlsFiles> {
  return (await testPki()).files('master', ['127.0.0.1']);
}

/** An operator's TLS directory (for `dcnet status --tls-dir`). */
export async function operatorTlsDir(): Promise<string> {
  return (await testPki()).dir('operator');
}

let masterClient: Promise<ControlClient> | undefined;
after(async () => (await masterClient)?.close());

/** fetch with a master's certificate: a test may do anything a master may. */
export async function masterFetch(url: string, init?: RequestInit): Promise<Response> {
  masterClient ??= testPki().then((p) => p.client('master', ['127.0.0.1']));
  return (await masterClient).fetch(url, init);
}

/** Starts `dcnet master` on a free loopback port and waits until it listens. TLS with the test
 *  CA unless `args` has `--insecure`; call it with `masterFetch` (or the store with `masterTls`). */
export async function startMaster(
  args: string[],
  timeoutMs = 15_000,
): Promise<RunningProcess & { url: string }> {
  const tls = args.includes('--insecure') ? [] : ['--tls-dir', await masterTlsDir()];
  const p = startDcnet(['master', '--listen', '127.0.0.1:0', ...tls, ...args]);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = p.logs.find((l) => l.msg === 'overlay master listening');
    if (line) return Object.assign(p, { url: String(line.url) });
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) {
      throw new Error(`dcnet master exited (${p.proc.exitCode ?? p.proc.signalCode}): ${p.stderr()}`);
    }
    if (Date.now() > deadline) {
      await p.kill('SIGKILL');
      throw new Error(`dcnet master did not start within ${timeoutMs} ms: ${p.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs a dcnet command to completion. */
export async function runDcnet(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [DCNET, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.env && { env: opts.env }),
  });
  started.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  started.delete(proc);
  return { code, stdout, stderr };
}
