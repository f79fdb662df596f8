// The HAProxy process dcnet lb runs: master-worker (`-W`), validated with `haproxy -c` before
// any config is used, reloaded seamlessly with SIGUSR2 to the master (the new worker receives the
// listening sockets from the old one), server state carried over through the server-state file.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
// Until HAProxy process control moves into src/kernel/ (the L7 hardening does that).
import { run, KernelError } from '../kernel/raw.js';
import { runtimeCommand } from './runtime.js';

export interface HaproxyOptions {
  readonly bin: string;
  readonly configPath: string;
  readonly socketPath: string;
  readonly serverStateFile: string;
  readonly log: Logger;
}

export interface Validation {
  readonly ok: boolean;
  readonly output: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Haproxy {
  private proc: ChildProcess | undefined;
  private exitedAt: number | undefined;
  private stopping = false;
  /** Called when the master exits without `stop()` (the controller restarts it). */
  onUnexpectedExit: (() => void) | undefined;

  constructor(private readonly o: HaproxyOptions) {}

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get masterPid(): number | undefined {
    return this.running ? this.proc!.pid : undefined;
  }

  /** `haproxy -c -f file`: rc 0 = valid; the output names the line of each error. */
  async validate(file: string): Promise<Validation> {
    try {
      const r = await run(this.o.bin, ['-c', '-f', file], { timeoutMs: 60_000 });
      return { ok: true, output: r.stdout + r.stderr };
    } catch (err) {
      if (err instanceof KernelError) return { ok: false, output: err.stderr + err.stdout };
      throw err;
    }
  }

  /** Starts the master (foreground, our child) and waits for its first worker. */
  async start(): Promise<void> {
    await this.stopLeftover();
    const args = ['-W', '-db', '-f', this.o.configPath, '-p', this.pidFile];
    const proc = spawn(this.o.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const logLine = (c: Buffer): void => {
      for (const line of c.toString('utf8').split('\n').filter(Boolean)) this.o.log.info({ haproxy: line });
    };
    proc.stdout!.on('data', logLine);
    proc.stderr!.on('data', logLine);
    proc.once('exit', (code, signal) => {
      this.exitedAt = Date.now();
      this.o.log.warn({ code, signal }, 'haproxy master exited');
      if (!this.stopping) this.onUnexpectedExit?.();
    });
    const deadline = Date.now() + 10_000;
    while ((await this.workerPid()) === undefined) {
      if (!this.running) throw new Error(`haproxy exited at start (code ${proc.exitCode}); see the log`);
      if (Date.now() > deadline) throw new Error('haproxy: no worker answered on the stats socket in 10 s');
      await sleep(50);
    }
  }

  private get pidFile(): string {
    return `${this.o.configPath}.pid`;
  }

  /** A master left by a previous `dcnet lb` on the same config (killed without cleanup) holds the
   *  ports; it is recognised by its pidfile and command line, and stopped. */
  private async stopLeftover(): Promise<void> {
    const pid = Number((await readFile(this.pidFile, 'utf8').catch(() => '')).trim().split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 1 || pid === this.proc?.pid) return;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!cmdline.some((a) => a.endsWith('haproxy')) || !cmdline.includes(this.o.configPath)) return;
    this.o.log.warn({ pid }, 'stopping the HAProxy a previous dcnet lb left running on this config');
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      if (!(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''))) return;
    }
    process.kill(pid, 'SIGKILL');
  }

  /** The current worker's PID, from `show info` on the stats socket. */
  async workerPid(): Promise<number | undefined> {
    try {
      const info = await runtimeCommand(this.o.socketPath, 'show info', 2000);
      const m = /^Pid:\s*(\d+)/m.exec(info);
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Saves server state, signals the master and waits until a new worker answers. */
  async reload(): Promise<void> {
    if (!this.running) {
      await this.start();
      return;
    }
    const old = await this.workerPid();
    try {
      const state = await runtimeCommand(this.o.socketPath, 'show servers state', 5000);
      if (state.startsWith('1\n')) {
        await writeFile(`${this.o.serverStateFile}.tmp`, state);
        await rename(`${this.o.serverStateFile}.tmp`, this.o.serverStateFile);
      }
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not save server state before reload');
    }
    process.kill(this.proc!.pid!, 'SIGUSR2');
    const deadline = Date.now() + 15_000;
    for (;;) {
      const pid = await this.workerPid();
      if (pid !== undefined && pid !== old) return;
      if (!this.running) throw new Error('haproxy master exited during reload');
      if (Date.now() > deadline) throw new Error('haproxy: no new worker 15 s after reload');
      await sleep(50);
    }
  }

  /** PIDs of the master and its workers (old workers still draining included). */
  async pids(): Promise<number[]> {
    const master = this.masterPid;
    if (master === undefined) return [];
    const out = [master];
    for (const d of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(d)) continue;
      const stat = await readFile(`/proc/${d}/stat`, 'utf8').catch(() => '');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === master) out.push(Number(d));
    }
    return out;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.stopping = true;
    if (!p || !this.running) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  get lastExit(): number | undefined {
    return this.exitedAt;
  }
}

/** A self-signed `CN=*` certificate, as Marathon-LB makes when none is given. */
export async function selfSignedCert(path: string): Promise<void> {
  const exists = await readFile(path, 'utf8').catch(() => '');
  if (exists.includes('PRIVATE KEY')) return;
  const key = `${path}.key`;
  const crt = `${path}.crt`;
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=*',
    '-days',
    '3650',
    '-keyout',
    key,
    '-out',
    crt,
  ]);
  const pem = (await readFile(crt, 'utf8')) + (await readFile(key, 'utf8'));
  await writeFile(path, pem, { mode: 0o600 });
  const { rm } = await import('node:fs/promises');
  await rm(key, { force: true });
  await rm(crt, { force: true });
}
