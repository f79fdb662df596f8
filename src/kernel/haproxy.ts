// The HAProxy process: `haproxy -c` (validate a file), the master-worker master (`-W -db`, our
// child), its reload (SIGUSR2: the master re-executes with the file on disk and hands the
// listening sockets to the new worker), stop, and the self-signed default certificate. Callers
// pass paths and a PID, never command text: what haproxy loads is the file they wrote.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { KernelError, run } from './exec.js';

/** Absolute file paths only, without characters that could end an argument. */
function checkPath(what: string, path: string): string {
  if (!isAbsolute(path) || /[\0\n\r]/.test(path))
    throw new KernelError(`haproxy ${what}`, null, `"${path}" is not an absolute path`);
  return path;
}

/** An executable: a bare name looked up in PATH, or an absolute path. */
function checkBin(bin: string): string {
  if (!/^[A-Za-z0-9._+-]+$/.test(bin)) checkPath('binary', bin);
  return bin;
}

export interface HaproxyCheck {
  readonly ok: boolean;
  /** What haproxy printed; each error names the `[file:line]` it is about. */
  readonly output: string;
}

/** `haproxy -c -f <file>`: rc 0 = the file is valid (binds are not tried). */
export async function haproxyCheck(bin: string, configFile: string): Promise<HaproxyCheck> {
  try {
    const r = await run(checkBin(bin), ['-c', '-f', checkPath('config', configFile)], { timeoutMs: 60_000 });
    return { ok: true, output: r.stdout + r.stderr };
  } catch (err) {
    if (err instanceof KernelError)
      return { ok: false, output: err.code === null ? err.message : err.stderr + err.stdout };
    throw err;
  }
}

export interface HaproxyMasterOptions {
  readonly bin: string;
  readonly configFile: string;
  readonly pidFile: string;
  /** Every line the master and its workers print (alerts name the config line). */
  readonly onLine?: (line: string) => void;
  readonly onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

/** A master-worker HAProxy master in the foreground (`-W -db`), started by `HaproxyMaster.start`. */
export class HaproxyMaster {
  private constructor(private readonly proc: ChildProcess) {}

  static start(o: HaproxyMasterOptions): HaproxyMaster {
    const args = [
      '-W',
      '-db',
      '-f',
      checkPath('config', o.configFile),
      '-p',
      checkPath('pidfile', o.pidFile),
    ];
    const proc = spawn(checkBin(o.bin), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const master = new HaproxyMaster(proc);
    let partial = '';
    const onData = (c: Buffer): void => {
      const text = partial + c.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line) o.onLine?.(line);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('error', () => {}); // a missing binary shows as an exit
    proc.once('exit', (code, signal) => o.onExit?.(code, signal));
    return master;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.pid !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get exitCode(): number | null {
    return this.proc.exitCode;
  }

  /** SIGUSR2: the master re-reads its config file and starts new workers; old ones finish. */
  reload(): void {
    if (this.running) this.proc.kill('SIGUSR2');
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** The master and its children (workers, old workers still draining). */
  async pids(): Promise<number[]> {
    const master = this.running ? this.proc.pid! : undefined;
    return master === undefined ? [] : [master, ...(await childrenOf(master))];
  }
}

/** PIDs whose parent is `pid` (from /proc/<n>/stat). */
export async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(d)) continue;
    const stat = await readFile(`/proc/${d}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) out.push(Number(d));
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A master left by an earlier run on the same config (killed without cleanup) still holds the
 *  ports: recognised by its pidfile and its command line naming `configFile`, and stopped.
 *  Returns its PID, or undefined when there was none. */
export async function stopLeftoverHaproxy(pidFile: string, configFile: string): Promise<number | undefined> {
  const pid = Number(
    (await readFile(checkPath('pidfile', pidFile), 'utf8').catch(() => '')).trim().split('\n')[0],
  );
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return undefined;
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  if (!cmdline.some((a) => a.endsWith('haproxy')) || !cmdline.includes(configFile)) return undefined;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return undefined;
  }
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    if (!(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''))) return pid;
  }
  process.kill(pid, 'SIGKILL');
  return pid;
}

/** A self-signed `CN=*` certificate and key in one PEM file (mode 600), as Marathon-LB makes
 *  when no certificate is given; an existing one is kept. */
export async function selfSignedCert(path: string): Promise<void> {
  checkPath('certificate', path);
  const exists = await readFile(path, 'utf8').catch(() => '');
  if (exists.includes('PRIVATE KEY')) return;
  const key = `${path}.key`;
  const crt = `${path}.crt`;
  try {
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
  } finally {
    await rm(key, { force: true });
    await rm(crt, { force: true });
  }
}
