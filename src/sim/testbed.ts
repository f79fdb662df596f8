// The test bed: simulated hosts as network namespaces on one underlay bridge, container
// namespaces attached through real CNI plugins, processes started inside them. Everything it makes
// carries a unique prefix and is removed by `destroy()`; `sweepStale()` removes what a crashed run
// left. Nothing is connected to the root namespace, so no address here can leak out.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { cniAdd, cniDel, type CniConflist, type CniResult } from '../kernel/index.js';
import { run, type RunResult } from '../kernel/raw.js';

/** Every namespace of a test bed starts with this, then 4 random characters and '-'. */
export const TESTBED_MARK = 'dcnt';
const STALE = new RegExp(`^${TESTBED_MARK}[0-9a-f]{4}-`);

export interface Host {
  readonly name: string;
  readonly netns: string;
  /** Underlay address (no prefix). */
  readonly ip: string;
}

export interface Container {
  readonly name: string;
  readonly netns: string;
  readonly host: Host;
  /** Addresses without prefix, in attachment order. */
  readonly ips: string[];
  readonly attachments: { list: CniConflist; ifname: string; result: CniResult }[];
}

export interface Spawned {
  readonly proc: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

async function netnsList(): Promise<string[]> {
  try {
    return await readdir('/run/netns');
  } catch {
    return [];
  }
}

async function killNetnsProcesses(ns: string): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
  for (const pid of stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Each live test bed is registered here with the PIDs that keep it alive (its creator, or the
 *  daemons of a detached demo); a sweep leaves alone every test bed with a live owner. */
export const TESTBED_REGISTRY = '/run/dcnet-testbeds';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function owned(prefix: string): Promise<boolean> {
  const text = await readFile(`${TESTBED_REGISTRY}/${prefix}`, 'utf8').catch(() => '');
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .some((pid) => pidAlive(pid));
}

/** Removes namespaces (and the processes in them) left by test beds whose owners are gone; with
 *  `prefix`, that test bed's whatever its owners (`dcnet demo --down`). */
export async function sweepStale(prefix?: string): Promise<string[]> {
  const prefixOf = (n: string): string => n.slice(0, TESTBED_MARK.length + 4);
  const candidates = (await netnsList()).filter((n) =>
    prefix !== undefined ? n.startsWith(`${prefix}-`) : STALE.test(n),
  );
  const live = new Set<string>();
  if (prefix === undefined) {
    for (const p of new Set(candidates.map(prefixOf))) if (await owned(p)) live.add(p);
  }
  const stale = candidates.filter((n) => !live.has(prefixOf(n)));
  for (const ns of stale) await killNetnsProcesses(ns);
  for (const ns of stale) await run('ip', ['netns', 'del', ns]).catch(() => {});
  const etc = await readdir('/etc/netns').catch(() => [] as string[]);
  for (const d of etc.filter((n) =>
    prefix !== undefined ? n.startsWith(`${prefix}-`) : STALE.test(n) && !live.has(prefixOf(n)),
  )) {
    await rm(`/etc/netns/${d}`, { recursive: true, force: true });
  }
  for (const p of new Set(stale.map(prefixOf))) await rm(`${TESTBED_REGISTRY}/${p}`, { force: true });
  return stale;
}

/** Last resort when a test process dies: no child of a test bed outlives it. */
const allChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of allChildren) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export class Testbed {
  readonly prefix: string;
  readonly underlay: string;
  readonly hosts = new Map<string, Host>();
  private readonly containers: Container[] = [];
  private readonly children = new Set<Spawned>();
  private readonly namespaces: string[] = [];
  private readonly cleanups: (() => Promise<void>)[] = [];

  private constructor(
    /** Underlay network: hosts get `${base}.N/24`. */
    readonly base: string,
  ) {
    this.prefix = `${TESTBED_MARK}${randomBytes(2).toString('hex')}`;
    this.underlay = `${this.prefix}-ul`;
  }

  static async create(opts: { base?: string } = {}): Promise<Testbed> {
    const tb = new Testbed(opts.base ?? '10.250.0');
    await mkdir(TESTBED_REGISTRY, { recursive: true });
    await tb.ownedBy([process.pid]);
    try {
      await tb.addNetns(tb.underlay);
      await tb.ip(tb.underlay, ['link', 'add', 'br-ul', 'type', 'bridge']);
      await tb.ip(tb.underlay, ['link', 'set', 'br-ul', 'up']);
    } catch (err) {
      await tb.destroy();
      throw err;
    }
    return tb;
  }

  /** Records which processes keep this test bed alive (a detached demo hands it to its daemons). */
  async ownedBy(pids: readonly number[]): Promise<void> {
    await writeFile(`${TESTBED_REGISTRY}/${this.prefix}`, `${pids.join(' ')}\n`);
  }

  private async addNetns(ns: string): Promise<void> {
    await run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  ip(ns: string, args: string[]): Promise<RunResult> {
    return run('ip', ['-n', ns, ...args]);
  }

  /** Runs a command inside a namespace. */
  exec(
    ns: string,
    cmd: string,
    args: string[],
    opts: { input?: string; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    return run(cmd, args, { ...opts, netns: ns });
  }

  /** A simulated host: namespace `${prefix}-${name}` with eth0 on the underlay at `${base}.${n}`. */
  async addHost(name: string, n: number): Promise<Host> {
    const netns = `${this.prefix}-${name}`;
    const ip = `${this.base}.${n}`;
    await this.addNetns(netns);
    const peer = `ul-${name}`.slice(0, 15);
    await this.ip(netns, [
      'link',
      'add',
      'eth0',
      'type',
      'veth',
      'peer',
      'name',
      peer,
      'netns',
      this.underlay,
    ]);
    await this.ip(this.underlay, ['link', 'set', peer, 'master', 'br-ul', 'up']);
    await this.ip(netns, ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await this.ip(netns, ['link', 'set', 'eth0', 'up']);
    const host = { name, netns, ip };
    this.hosts.set(name, host);
    return host;
  }

  /** A container namespace attached to `lists` (one interface each: eth0, eth1, …) by real CNI plugins run on the host. */
  async addContainer(
    host: Host,
    name: string,
    lists: readonly CniConflist[],
    runtimeConfig?: Record<string, unknown>,
  ): Promise<Container> {
    const netns = `${this.prefix}-${host.name}-${name}`;
    await this.addNetns(netns);
    const c: Container = { name, netns, host, ips: [], attachments: [] };
    this.containers.push(c);
    for (const [i, list] of lists.entries()) {
      const ifname = `eth${i}`;
      const result = await cniAdd(list, {
        containerId: netns,
        netnsPath: `/run/netns/${netns}`,
        ifname,
        hostNetns: host.netns,
        ...(runtimeConfig && { runtimeConfig }),
      });
      c.attachments.push({ list, ifname, result });
      for (const a of result.ips ?? []) c.ips.push(a.address.split('/')[0]!);
    }
    return c;
  }

  /** Starts a long-running process inside a namespace (nsenter, so /sys stays as it is). With
   *  `logFile` it writes there and runs in its own session, so it outlives this process. */
  spawn(
    ns: string,
    cmd: string,
    args: string[],
    opts: { env?: NodeJS.ProcessEnv; logFile?: string } = {},
  ): Spawned {
    const fd = opts.logFile !== undefined ? openSync(opts.logFile, 'a') : undefined;
    const proc = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', cmd, ...args], {
      stdio: fd !== undefined ? ['ignore', fd, fd] : ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      detached: fd !== undefined,
    });
    let out = '';
    const keep = (c: Buffer): void => {
      out += c.toString('utf8');
      if (out.length > 1_000_000) out = out.slice(-500_000);
    };
    if (fd !== undefined) {
      closeSync(fd);
      proc.unref();
    } else {
      proc.stdout!.on('data', keep);
      proc.stderr!.on('data', keep);
    }
    // Detached children (log files) are meant to outlive this process.
    if (fd === undefined) allChildren.add(proc);
    const exited = new Promise<number | null>((resolve) =>
      proc.once('exit', (code) => {
        allChildren.delete(proc);
        resolve(code);
      }),
    );
    const child: Spawned = {
      proc,
      output: () => (opts.logFile !== undefined ? readFileSync(opts.logFile, 'utf8') : out),
      exited,
      stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill(signal);
          const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        this.children.delete(child);
      },
    };
    this.children.add(child);
    return child;
  }

  /** Registers cleanup that must run before processes are stopped (e.g. removing Docker containers). */
  onDestroy(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  /** Stops every process, detaches containers, removes every namespace this test bed made. */
  async destroy(): Promise<void> {
    for (const fn of this.cleanups.splice(0).reverse()) await fn().catch(() => {});
    await Promise.all([...this.children].map((c) => c.stop()));
    for (const c of this.containers.reverse()) {
      for (const a of c.attachments.reverse()) {
        await cniDel(a.list, {
          containerId: c.netns,
          netnsPath: `/run/netns/${c.netns}`,
          ifname: a.ifname,
          hostNetns: c.host.netns,
        }).catch(() => {});
      }
    }
    for (const ns of this.namespaces.reverse()) {
      await killNetnsProcesses(ns);
      await run('ip', ['netns', 'del', ns]).catch(() => {});
      // ip netns exec's per-namespace /etc files (the agents' resolv.conf and its saved original)
      await rm(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    await rm(`${TESTBED_REGISTRY}/${this.prefix}`, { force: true });
  }
}
