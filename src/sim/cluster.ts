// An overlay cluster on a test bed: one master host and N agent hosts, each running the real
// `dcnet` binary in its namespace. Used by the end-to-end tests, the benchmarks and the demo.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CniConflist } from '../kernel/index.js';
import type { AgentInfo } from '../overlay/index.js';
import { Testbed, type Host, type Spawned } from './testbed.js';

export const REPO_ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
export const DCNET_BIN = join(REPO_ROOT, 'bin', 'dcnet');

export interface AgentNode {
  readonly host: Host;
  readonly cniDir: string;
  readonly url: string;
  proc: Spawned;
  readonly args: string[];
}

export interface ClusterOptions {
  readonly agents: number;
  /** Scratch directory for data dirs, CNI configs and leases. */
  readonly workdir: string;
  readonly agentArgs?: (name: string) => string[];
  readonly masterArgs?: string[] | ((host: Host) => string[]);
  /** Runs in the master's namespace before the master starts (e.g. an upstream resolver). */
  readonly prepareMaster?: (host: Host, tb: Testbed) => Promise<void>;
  /** Run etcd in the master's namespace and the master on it (`--store etcd://…`). */
  readonly etcd?: boolean;
  /** Port of the dcnet overlay master (default 5050; the demo moves it for the Mesos emulator). */
  readonly masterPort?: number;
  /** Write process logs here (one file per process) and let them outlive this process. */
  readonly logDir?: string;
  /** Runs before an agent host's agent starts (e.g. to start dockerd there). */
  readonly prepareHost?: (name: string, host: Host, dir: string, tb: Testbed) => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class OverlayCluster {
  readonly agents = new Map<string, AgentNode>();
  master!: { host: Host; proc: Spawned; url: string; dataDir: string };
  etcd: Spawned | undefined;

  private constructor(
    readonly tb: Testbed,
    readonly opts: ClusterOptions,
  ) {}

  static async start(opts: ClusterOptions): Promise<OverlayCluster> {
    const tb = await Testbed.create();
    const cluster = new OverlayCluster(tb, opts);
    try {
      const host = await tb.addHost('master', 100);
      const dataDir = join(opts.workdir, 'master');
      const url = `http://${host.ip}:${opts.masterPort ?? 5050}`;
      if (opts.etcd) await cluster.startEtcd(host);
      await opts.prepareMaster?.(host, tb);
      cluster.master = { host, dataDir, url, proc: cluster.startMaster(host, dataDir) };
      for (let i = 1; i <= opts.agents; i++) await cluster.addAgent(`a${i}`, i);
      return cluster;
    } catch (err) {
      await tb.destroy();
      throw err;
    }
  }

  /** etcd on the master's underlay address (data kept across restarts). */
  async startEtcd(host: Host = this.master.host): Promise<void> {
    const client = `http://${host.ip}:2379`;
    const peer = `http://${host.ip}:2380`;
    this.etcd = this.tb.spawn(host.netns, 'etcd', [
      '--logger=zap',
      '--log-level=error',
      '--name',
      'm1',
      '--data-dir',
      join(this.opts.workdir, 'etcd'),
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `m1=${peer}`,
    ]);
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await this.tb.exec(host.netns, 'etcdctl', [
          '--endpoints',
          client,
          '--dial-timeout',
          '1s',
          'endpoint',
          'health',
        ]);
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
  }

  async stopEtcd(): Promise<void> {
    await this.etcd?.stop();
    this.etcd = undefined;
  }

  private startMaster(host: Host, dataDir: string): Spawned {
    const storeArgs = this.opts.etcd ? ['--store', `etcd://${host.ip}:2379`] : ['--data-dir', dataDir];
    return this.tb.spawn(
      host.netns,
      process.execPath,
      [
        DCNET_BIN,
        'master',
        ...storeArgs,
        '--listen',
        `${host.ip}:${this.opts.masterPort ?? 5050}`,
        ...(typeof this.opts.masterArgs === 'function'
          ? this.opts.masterArgs(host)
          : (this.opts.masterArgs ?? [])),
      ],
      this.logOpts('master'),
    );
  }

  /** Stops the master (SIGKILL or SIGTERM); `restartMaster` brings it back on the same data. */
  async stopMaster(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.master.proc.stop(signal);
  }

  restartMaster(): void {
    this.master.proc = this.startMaster(this.master.host, this.master.dataDir);
  }

  async addAgent(name: string, n: number): Promise<AgentNode> {
    const host = await this.tb.addHost(name, n);
    const dir = join(this.opts.workdir, name);
    await mkdir(dir, { recursive: true });
    const cniDir = join(dir, 'cni');
    await this.opts.prepareHost?.(name, host, dir, this.tb);
    const args = [
      DCNET_BIN,
      'agent',
      '--master',
      this.master.url,
      '--ip',
      host.ip,
      '--listen',
      `${host.ip}:5051`,
      '--cni-dir',
      cniDir,
      '--cni-data-dir',
      join(dir, 'ipam'),
      '--docker-socket',
      join(dir, 'docker.sock'),
      '--backoff-min',
      '0.1',
      '--backoff-max',
      '1',
      // Names outside the cluster go to the master host (a local fake resolver, if one runs there):
      // never to this machine's own resolvers.
      '--dns-upstream',
      `${this.master.host.ip}:53`,
      ...(this.opts.agentArgs?.(name) ?? []),
    ];
    const node: AgentNode = {
      host,
      cniDir,
      url: `http://${host.ip}:5051`,
      args,
      proc: this.tb.spawn(host.netns, process.execPath, args, this.logOpts(name)),
    };
    this.agents.set(name, node);
    return node;
  }

  agent(name: string): AgentNode {
    const a = this.agents.get(name);
    if (!a) throw new Error(`no agent ${name}`);
    return a;
  }

  logOpts(name: string): { logFile?: string } {
    return this.opts.logDir !== undefined ? { logFile: join(this.opts.logDir, `${name}.log`) } : {};
  }

  async stopAgent(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.agent(name).proc.stop(signal);
  }

  startAgent(name: string): void {
    const a = this.agent(name);
    a.proc = this.tb.spawn(a.host.netns, process.execPath, a.args, this.logOpts(name));
  }

  /** GET inside a host's namespace (the test runner's namespace has no route there). */
  async httpGet(host: Host, url: string): Promise<string> {
    const { stdout } = await this.tb.exec(host.netns, 'curl', ['-sS', '-m', '5', '--fail-with-body', url]);
    return stdout;
  }

  async httpPost(host: Host, url: string, body: unknown): Promise<string> {
    const { stdout } = await this.tb.exec(host.netns, 'curl', [
      '-sS',
      '-m',
      '5',
      '--fail-with-body',
      '-H',
      'content-type: application/json',
      '-d',
      JSON.stringify(body),
      url,
    ]);
    return stdout;
  }

  async agentInfo(name: string): Promise<AgentInfo> {
    const a = this.agent(name);
    return JSON.parse(await this.httpGet(a.host, `${a.url}/overlay-agent/overlay`)) as AgentInfo;
  }

  /** Waits until every agent reports all its overlays STATUS_OK. */
  async waitReady(timeoutMs = 30_000, names = [...this.agents.keys()]): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const name of names) {
      for (;;) {
        const info = await this.agentInfo(name).catch(() => undefined);
        const overlays = info?.overlays ?? [];
        if (overlays.length > 0 && overlays.every((o) => o.state?.status === 'STATUS_OK')) break;
        if (Date.now() > deadline) {
          throw new Error(
            `agent ${name} not ready within ${timeoutMs} ms: ${JSON.stringify(info)}\n${this.agent(name).proc.output().slice(-3000)}`,
          );
        }
        await sleep(100);
      }
    }
  }

  async conflist(agent: string, overlay: string): Promise<CniConflist> {
    return JSON.parse(
      await readFile(join(this.agent(agent).cniDir, `${overlay}.conflist`), 'utf8'),
    ) as CniConflist;
  }

  async destroy(): Promise<void> {
    await this.tb.destroy();
  }
}
