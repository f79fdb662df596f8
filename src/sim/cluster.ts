// An overlay cluster on a test bed: one master host and N agent hosts, each running the real
// `dcnet` binary in its namespace. Used by the end-to-end tests, the benchmarks and the demo.
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CniConflist } from '../kernel/index.js';
import type { AgentInfo } from '../overlay/index.js';
import {
  createCa,
  issueCertificate,
  tlsDirPaths,
  writeCaDir,
  writeTlsDir,
  type CaMaterial,
  type Role,
} from '../pki/index.js';
import { STORE_PREFIX, type KeyValue, type RangeResult, type TxnResult } from '../store/index.js';
import { Testbed, type Host, type Spawned } from './testbed.js';
import { preparePluginsDir } from './cni-plugins.js';

export const REPO_ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
export const DCNET_BIN = join(REPO_ROOT, 'bin', 'dcnet');

export interface AgentNode {
  readonly host: Host;
  /** The Mesos agent's CNI config directory (`dcnet agent --cni-dir`: `<overlay>.conf`). */
  readonly cniDir: string;
  /** The Mesos agent's CNI plugins directory (shared by the cluster's agents). */
  readonly cniPluginsDir: string;
  /** Where the agent also writes `<overlay>.conflist` (for test containers attached by libcni). */
  readonly cniConflistDir: string;
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
  /** Plain HTTP control plane (`--insecure` everywhere) instead of TLS with the cluster CA. */
  readonly insecure?: boolean;
}

/** A TLS directory's paths (ca.pem, cert.pem, key.pem), as cluster.json and curl use them. */
export type TlsPaths = ReturnType<typeof tlsDirPaths>;

/** Who a test-bed request is made as: a role's certificate, an agent's (by name), or none. */
export type Caller = 'operator' | 'master' | 'none' | { readonly agent: string };

export interface CurlResult {
  readonly status: number;
  readonly body: string;
}

/** Control-plane calls from inside a host's namespace, as one caller (curl with its certificate). */
export interface ControlPlaneCaller {
  request(method: string, path: string, body?: unknown): Promise<CurlResult>;
  /** 2xx or throws with the status and body. */
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
  readonly store: {
    get(key: string): Promise<KeyValue | undefined>;
    range(prefix: string): Promise<RangeResult>;
    put(key: string, value: string): Promise<TxnResult>;
    delete(key: string): Promise<TxnResult>;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class OverlayCluster {
  readonly agents = new Map<string, AgentNode>();
  master!: { host: Host; proc: Spawned; url: string; dataDir: string };
  etcd: Spawned | undefined;
  /** The cluster CA (in `workdir/pki/ca`); undefined with `insecure`. */
  ca: CaMaterial | undefined;
  /** TLS directories by holder: 'master', 'operator', and each agent's name. */
  readonly tls = new Map<string, TlsPaths>();

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
      const url = `${opts.insecure ? 'http' : 'https'}://${host.ip}:${opts.masterPort ?? 5050}`;
      if (!opts.insecure) {
        cluster.ca = await createCa();
        await writeCaDir(join(opts.workdir, 'pki', 'ca'), cluster.ca, { force: true });
        await cluster.issue('master', 'master', [host.ip]);
        await cluster.issue('operator', 'operator', [], 'testbed');
      }
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

  /** Issues a certificate into `workdir/pki/<holder>` (also for tests: e.g. a second agent cert). */
  async issue(holder: string, role: Role, ips: string[], name?: string): Promise<TlsPaths> {
    if (!this.ca) throw new Error('this cluster runs --insecure: no CA');
    const cert = await issueCertificate(this.ca, { role, ips, ...(name !== undefined && { name }) });
    const dir = join(this.opts.workdir, 'pki', holder);
    await writeTlsDir(dir, { ca: this.ca.certPem, cert: cert.certPem, key: cert.keyPem });
    const paths = tlsDirPaths(dir);
    this.tls.set(holder, paths);
    return paths;
  }

  /** `--tls-dir DIR` for a holder, or `--insecure`. */
  private tlsArgs(holder: string): string[] {
    if (this.opts.insecure) return ['--insecure'];
    const t = this.tls.get(holder);
    if (!t) throw new Error(`no certificate issued for ${holder}`);
    return ['--tls-dir', t.dir];
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
        ...this.tlsArgs('master'),
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
    const cniConflistDir = join(dir, 'cni-conflist');
    const cniPluginsDir = await preparePluginsDir(join(this.opts.workdir, 'cni-plugins'));
    await this.opts.prepareHost?.(name, host, dir, this.tb);
    if (!this.opts.insecure) await this.issue(name, 'agent', [host.ip]);
    // The agent manages its namespace's resolv.conf (what `ip netns exec` shows as /etc/resolv.conf),
    // never this machine's; the test bed removes /etc/netns/<prefix>-* with the namespaces.
    const resolvConf = `/etc/netns/${host.netns}/resolv.conf`;
    await mkdir(dirname(resolvConf), { recursive: true });
    const args = [
      DCNET_BIN,
      'agent',
      '--master',
      this.master.url,
      '--ip',
      host.ip,
      ...this.tlsArgs(name),
      '--listen',
      `${host.ip}:5051`,
      '--cni-dir',
      cniDir,
      '--cni-conflist-dir',
      cniConflistDir,
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
      '--resolv-conf',
      resolvConf,
      ...(this.opts.agentArgs?.(name) ?? []),
    ];
    const node: AgentNode = {
      host,
      cniDir,
      cniPluginsDir,
      cniConflistDir,
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

  /** curl's TLS arguments for a caller; https URLs to the master default to the operator's. */
  curlTlsArgs(as: Caller): string[] {
    if (as === 'none')
      return this.ca ? ['--cacert', tlsDirPaths(join(this.opts.workdir, 'pki', 'ca')).ca] : [];
    const t = this.tls.get(typeof as === 'string' ? as : as.agent);
    if (!t) throw new Error(`no certificate for ${JSON.stringify(as)}`);
    return ['--cacert', t.ca, '--cert', t.cert, '--key', t.key];
  }

  private curlArgsFor(url: string): string[] {
    return url.startsWith('https://') ? this.curlTlsArgs('operator') : [];
  }

  /** GET inside a host's namespace (the test runner's namespace has no route there); https as
   *  the operator. */
  async httpGet(host: Host, url: string): Promise<string> {
    const { stdout } = await this.tb.exec(host.netns, 'curl', [
      '-sS',
      '-m',
      '5',
      '--fail-with-body',
      ...this.curlArgsFor(url),
      url,
    ]);
    return stdout;
  }

  async httpPost(host: Host, url: string, body: unknown): Promise<string> {
    const { stdout } = await this.tb.exec(host.netns, 'curl', [
      '-sS',
      '-m',
      '5',
      '--fail-with-body',
      ...this.curlArgsFor(url),
      '-H',
      'content-type: application/json',
      '-d',
      JSON.stringify(body),
      url,
    ]);
    return stdout;
  }

  /** Any request from a namespace as `as`; the status and body, whatever the status. */
  async curl(netns: string, as: Caller, method: string, url: string, body?: unknown): Promise<CurlResult> {
    const { stdout } = await this.tb.exec(netns, 'curl', [
      '-sS',
      '-m',
      '5',
      '-X',
      method,
      ...this.curlTlsArgs(as),
      ...(body !== undefined ? ['-H', 'content-type: application/json', '-d', JSON.stringify(body)] : []),
      '-w',
      '\n%{http_code}',
      url,
    ]);
    const nl = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl) };
  }

  /** The master's API and store as one caller, from a host's namespace (default: the master's). */
  controlPlane(as: Caller, from: Host = this.master.host): ControlPlaneCaller {
    const request = (method: string, path: string, body?: unknown): Promise<CurlResult> =>
      this.curl(from.netns, as, method, `${this.master.url}${path}`, body);
    const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const r = await request(method, path, body);
      if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
      return JSON.parse(r.body) as T;
    };
    return {
      request,
      json,
      store: {
        get: async (key) =>
          (await json<{ kv: KeyValue | null }>('POST', `${STORE_PREFIX}/get`, { key })).kv ?? undefined,
        range: (prefix) => json('POST', `${STORE_PREFIX}/range`, { prefix }),
        put: (key, value) => json('POST', `${STORE_PREFIX}/txn`, { success: [{ type: 'put', key, value }] }),
        delete: (key) => json('POST', `${STORE_PREFIX}/txn`, { success: [{ type: 'delete', key }] }),
      },
    };
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
      await readFile(join(this.agent(agent).cniConflistDir, `${overlay}.conflist`), 'utf8'),
    ) as CniConflist;
  }

  async destroy(): Promise<void> {
    await this.tb.destroy();
  }
}
