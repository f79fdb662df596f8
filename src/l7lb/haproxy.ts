// The HAProxy that dcnet lb runs, through `kernel/`'s master-worker process: validated with
// `haproxy -c` before any config is used, reloaded seamlessly (the new worker receives the
// listening sockets from the old one), server state carried over through the server-state file.
// A reload HAProxy could not load (a bind that fails after `-c` passed) is a `ReloadError`: the
// old workers keep serving the old config.
import { rename, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { haproxyCheck, HaproxyMaster, stopLeftoverHaproxy, type HaproxyCheck } from '../kernel/index.js';
import { runtimeCommand } from './runtime.js';

export { selfSignedCert } from '../kernel/index.js';

export interface HaproxyOptions {
  readonly bin: string;
  readonly configPath: string;
  readonly socketPath: string;
  readonly serverStateFile: string;
  readonly log: Logger;
}

export type Validation = HaproxyCheck;

/** HAProxy refused the config it was reloaded with; `alerts` are its `[ALERT]` lines. */
export class ReloadError extends Error {
  constructor(
    message: string,
    readonly alerts: readonly string[],
  ) {
    super(message);
    this.name = 'ReloadError';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `[ALERT]    (8345) : Binding [f:15] …` → `Binding [f:15] …`. */
const alertText = (line: string): string => line.replace(/^\[ALERT\]\s*\(\d+\)\s*:\s*/, '').trim();

export class Haproxy {
  private master: HaproxyMaster | undefined;
  private exitedAt: number | undefined;
  private stopping = false;
  /** Sees every output line while a start or reload waits for its outcome. */
  private watch: ((line: string) => void) | undefined;
  /** Called when the master exits without `stop()` (the controller restarts it). */
  onUnexpectedExit: (() => void) | undefined;

  constructor(private readonly o: HaproxyOptions) {}

  get running(): boolean {
    return this.master?.running ?? false;
  }

  get masterPid(): number | undefined {
    return this.running ? this.master!.pid : undefined;
  }

  /** `haproxy -c -f file`: rc 0 = valid; the output names the line of each error. */
  validate(file: string): Promise<Validation> {
    return haproxyCheck(this.o.bin, file);
  }

  private get pidFile(): string {
    return `${this.o.configPath}.pid`;
  }

  /** Starts the master (foreground, our child) and waits for its first worker. */
  async start(): Promise<void> {
    const left = await stopLeftoverHaproxy(this.pidFile, this.o.configPath);
    if (left !== undefined)
      this.o.log.warn({ pid: left }, 'stopped the HAProxy a previous dcnet lb left running on this config');
    const alerts: string[] = [];
    this.watch = (line) => {
      if (line.startsWith('[ALERT]')) alerts.push(alertText(line));
    };
    const master = HaproxyMaster.start({
      bin: this.o.bin,
      configFile: this.o.configPath,
      pidFile: this.pidFile,
      onLine: (line) => {
        this.o.log.info({ haproxy: line });
        this.watch?.(line);
      },
      onExit: (code, signal) => {
        this.exitedAt = Date.now();
        this.o.log.warn({ code, signal }, 'haproxy master exited');
        if (!this.stopping && this.master === master) this.onUnexpectedExit?.();
      },
    });
    this.master = master;
    try {
      const deadline = Date.now() + 10_000;
      while ((await this.workerPid()) === undefined) {
        if (!master.running)
          throw new ReloadError(
            `haproxy exited at start (code ${master.exitCode}): ${alerts.join(' | ') || 'see the log'}`,
            alerts,
          );
        if (Date.now() > deadline) throw new Error('haproxy: no worker answered on the stats socket in 10 s');
        await sleep(50);
      }
    } finally {
      this.watch = undefined;
    }
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

  /** Saves server state, signals the master and waits until a new worker answers; a
   *  `ReloadError` when HAProxy reports that it could not load the config. */
  async reload(): Promise<void> {
    if (!this.running) {
      await this.start();
      return;
    }
    const old = await this.workerPid();
    try {
      const state = await runtimeCommand(this.o.socketPath, 'show servers state', 5000);
      if (state.startsWith('1\n')) {
        await writeFile(`${this.o.serverStateFile}.tmp`, state, { mode: 0o600 });
        await rename(`${this.o.serverStateFile}.tmp`, this.o.serverStateFile);
      }
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not save server state before reload');
    }
    const alerts: string[] = [];
    let failed = false;
    this.watch = (line) => {
      if (line.startsWith('[ALERT]')) alerts.push(alertText(line));
      // The master's verdict on a reload (HAProxy 2.6 mworker): the old workers resume.
      if (/Loading failure!/.test(line)) failed = true;
    };
    try {
      this.master!.reload();
      const deadline = Date.now() + 15_000;
      for (;;) {
        if (failed)
          throw new ReloadError(
            `haproxy could not load the new config (the old workers keep serving): ${alerts.join(' | ') || 'see the log'}`,
            alerts,
          );
        const pid = await this.workerPid();
        if (!failed && pid !== undefined && pid !== old) return;
        if (!this.running) throw new ReloadError('haproxy master exited during reload', alerts);
        if (Date.now() > deadline) throw new ReloadError('haproxy: no new worker 15 s after reload', alerts);
        await sleep(50);
      }
    } finally {
      this.watch = undefined;
    }
  }

  /** PIDs of the master and its workers (old workers still draining included). */
  pids(): Promise<number[]> {
    return this.master?.pids() ?? Promise.resolve([]);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.master?.stop();
  }

  get lastExit(): number | undefined {
    return this.exitedAt;
  }
}
