// `dcnet demo`: one master, three private agents and one public agent in namespaces, the real
// dcnet daemons, the Mesos/Marathon emulator, and the example apps deployed as real tasks.
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentInfo } from '../overlay/index.js';
import { run } from '../kernel/raw.js';
import { SPARTAN_IP as SPARTAN } from '../dns/dcos/index.js';
import { OverlayCluster, DCNET_BIN, REPO_ROOT } from './cluster.js';
import { sweepStale, type Spawned } from './testbed.js';
import { importBusybox, startDockerd } from './docker.js';
import type { Topology } from './emulator/index.js';
import { STORE_PREFIX } from '../store/index.js';
import { vipFqdn, vipTableFromKvs, VIPS_PREFIX, type VipTable } from '../l4lb/index.js';

export const DEMO_PORTS = { mesos: 5050, marathon: 8080, dcnetMaster: 5080 } as const;
/** A name only the demo's upstream resolver knows (documentation address). */
export const DEMO_OUTSIDE_NAME = 'outside.example.test';
export const DEMO_OUTSIDE_IP = '192.0.2.10';
/** The public agent running `dcnet lb` (HAProxy on :80, :443, :9090 of its namespace). */
export const DEMO_LB_AGENT = 'p1';
export const DEMO_VHOST = 'web.example.test';

export interface DemoTask {
  id: string;
  app: string;
  agent: string;
  netns: string;
  ips: string[];
  ports: number[];
  mode: string;
  healthy?: boolean;
}

export interface ClusterJson {
  prefix: string;
  workdir: string;
  master: { netns: string; ip: string };
  agents: { name: string; netns: string; ip: string; public: boolean }[];
  tasks: DemoTask[];
  mesos: string;
  marathon: string;
  dcnet_master: string;
  /** The operator's certificate: `curl --cacert CA --cert CERT --key KEY https://…` or
   *  `dcnet status --tls-dir DIR`. */
  operator_tls: { dir: string; ca: string; cert: string; key: string };
  pids: number[];
  ready_seconds: number;
}

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface MarathonTaskJson {
  id: string;
  appId: string;
  host: string;
  state: string;
  ports: number[];
  ipAddresses: { ipAddress: string }[];
  healthCheckResults?: { alive: boolean }[];
}

export class Demo {
  emulator!: Spawned;
  lb: Spawned | undefined;
  readyMs = 0;
  private readonly publicAgents = new Set<string>();

  private constructor(
    readonly cluster: OverlayCluster,
    readonly workdir: string,
  ) {}

  get mesosUrl(): string {
    return `http://${this.cluster.master.host.ip}:${DEMO_PORTS.mesos}`;
  }

  get marathonUrl(): string {
    return `http://${this.cluster.master.host.ip}:${DEMO_PORTS.marathon}`;
  }

  /** Builds the cluster, deploys examples/apps, and returns once every task runs (and is healthy). */
  static async up(opts: {
    workdir: string;
    detach: boolean;
    say: (line: string) => void;
    dockerAgents?: string[];
  }): Promise<Demo> {
    const started = Date.now();
    await sweepStale();
    const logDir = join(opts.workdir, 'logs');
    await mkdir(logDir, { recursive: true });
    opts.say('starting the master and 4 agents (3 private, 1 public) in network namespaces…');
    const cluster = await OverlayCluster.start({
      agents: 3,
      workdir: opts.workdir,
      masterPort: DEMO_PORTS.dcnetMaster,
      // The master polls the Mesos emulator (started next) for the VIP table and the DNS zones.
      masterArgs: (host) => ['--mesos', `${host.ip}:${DEMO_PORTS.mesos}`, '--mesos-refresh', '0.1'],
      // "The outside world's" resolver: dnsmasq on the master host, the agents' upstream.
      prepareMaster: async (host, tb) => {
        tb.spawn(host.netns, 'dnsmasq', [
          '--keep-in-foreground',
          '-C',
          '/dev/null',
          '--no-resolv',
          '--no-hosts',
          '--bind-interfaces',
          `--listen-address=${host.ip}`,
          '--port=53',
          `--host-record=${DEMO_OUTSIDE_NAME},${DEMO_OUTSIDE_IP}`,
          '--pid-file=',
        ]);
      },
      ...(opts.detach && { logDir }),
      // dockerd on the chosen agents before their dcnet agent starts, so it creates the Docker networks.
      prepareHost: async (name, host, dir, tb) => {
        if (!opts.dockerAgents?.includes(name)) return;
        const d = await startDockerd(tb, host, dir);
        await importBusybox(d, dir);
      },
    });
    const demo = new Demo(cluster, opts.workdir);
    try {
      await cluster.addAgent('p1', 11);
      demo.publicAgents.add('p1');
      await demo.startEmulator(opts.detach ? logDir : undefined);
      await cluster.waitReady(60_000);
      opts.say('overlay ready; deploying examples/apps …');
      await demo.deployExamples();
      await demo.waitTasks(60_000);
      await demo.startLb(opts.detach ? logDir : undefined);
      demo.readyMs = Date.now() - started;
      return demo;
    } catch (err) {
      await demo.destroy();
      throw err;
    }
  }

  /** The nodes as the emulator and cluster.json describe them. */
  private nodes(): { master: Topology['master']; agents: Topology['agents'] } {
    const { cluster } = this;
    return {
      master: { netns: cluster.master.host.netns, ip: cluster.master.host.ip },
      agents: [...cluster.agents.entries()].map(([name, a]) => ({
        name,
        netns: a.host.netns,
        ip: a.host.ip,
        public: this.publicAgents.has(name),
        cniDir: a.cniDir,
        cniPluginsDir: a.cniPluginsDir,
      })),
    };
  }

  private async startEmulator(logDir: string | undefined): Promise<void> {
    const { cluster } = this;
    const topology: Topology = { prefix: cluster.tb.prefix, workdir: this.workdir, ...this.nodes() };
    const file = join(this.workdir, 'topology.json');
    await writeFile(file, JSON.stringify(topology, null, 2));
    const ip = cluster.master.host.ip;
    this.emulator = cluster.tb.spawn(
      cluster.master.host.netns,
      process.execPath,
      [
        DCNET_BIN,
        'emulator',
        '--topology',
        file,
        '--mesos-listen',
        `${ip}:${DEMO_PORTS.mesos}`,
        '--marathon-listen',
        `${ip}:${DEMO_PORTS.marathon}`,
      ],
      logDir !== undefined ? { logFile: join(logDir, 'emulator.log') } : {},
    );
    const deadline = Date.now() + 20_000;
    while (!this.emulator.output().includes('emulator listening')) {
      if (Date.now() > deadline || this.emulator.proc.exitCode !== null)
        throw new Error(`emulator did not start:\n${this.emulator.output().slice(-2000)}`);
      await sleep(50);
    }
  }

  /** `dcnet lb` on the public agent, serving the `external` group (as Marathon-LB would). */
  private async startLb(logDir: string | undefined): Promise<void> {
    const { cluster } = this;
    const host = cluster.agent(DEMO_LB_AGENT).host;
    const dir = join(this.workdir, 'lb');
    await mkdir(dir, { recursive: true });
    this.lb = cluster.tb.spawn(
      host.netns,
      process.execPath,
      [
        DCNET_BIN,
        'lb',
        '--marathon',
        this.marathonUrl,
        '--group',
        'external',
        '--haproxy-config',
        join(dir, 'haproxy.cfg'),
        '--templates',
        join(dir, 'templates'),
      ],
      logDir !== undefined ? { logFile: join(logDir, 'lb.log') } : {},
    );
    // Ready once HAProxy routes the vhost to a web task.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { stdout } = await cluster.tb
        .exec(host.netns, 'curl', ['-s', '-m', '2', '-H', `Host: ${DEMO_VHOST}`, 'http://127.0.0.1/'])
        .catch(() => ({ stdout: '' }));
      if (stdout.startsWith('web.')) return;
      if (Date.now() > deadline || this.lb.proc.exitCode !== null)
        throw new Error(`dcnet lb did not route ${DEMO_VHOST}:\n${this.lb.output().slice(-2000)}`);
      await sleep(200);
    }
  }

  async deployExamples(): Promise<string[]> {
    const dir = join(REPO_ROOT, 'examples', 'apps');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    for (const f of files) {
      const body = JSON.parse(await readFile(join(dir, f), 'utf8')) as unknown;
      await this.cluster.httpPost(this.cluster.master.host, `${this.marathonUrl}/v2/apps`, body);
    }
    return files;
  }

  async marathon<T>(path: string): Promise<T> {
    return JSON.parse(
      await this.cluster.httpGet(this.cluster.master.host, `${this.marathonUrl}${path}`),
    ) as T;
  }

  async waitTasks(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { apps } = await this.marathon<{
        apps: {
          id: string;
          instances: number;
          tasksRunning: number;
          tasksHealthy: number;
          healthChecks: unknown[];
        }[];
      }>('/v2/apps');
      const pending = apps.filter(
        (a) => a.tasksRunning < a.instances || (a.healthChecks.length > 0 && a.tasksHealthy < a.instances),
      );
      if (apps.length > 0 && pending.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(
          `tasks not ready: ${pending.map((a) => `${a.id} ${a.tasksRunning}/${a.instances} running, ${a.tasksHealthy} healthy`).join('; ')}`,
        );
      }
      await sleep(200);
    }
  }

  async tasks(): Promise<DemoTask[]> {
    const { tasks } = await this.marathon<{ tasks: MarathonTaskJson[] }>('/v2/tasks');
    const { apps } = await this.marathon<{ apps: { id: string; networks: { mode: string }[] }[] }>(
      '/v2/apps',
    );
    const modes = new Map(apps.map((a) => [a.id, a.networks[a.networks.length - 1]?.mode ?? 'host']));
    const byIp = new Map(
      [...this.cluster.agents].map(([name, a]) => [a.host.ip, { name, netns: a.host.netns }]),
    );
    return tasks
      .filter((t) => t.state === 'TASK_RUNNING')
      .map((t) => {
        const agent = byIp.get(t.host)!;
        const mode = modes.get(t.appId) ?? 'host';
        const suffix = t.id
          .slice(t.id.lastIndexOf('.') + 1)
          .replace(/-/g, '')
          .slice(0, 8);
        const healthy = t.healthCheckResults?.length ? t.healthCheckResults.every((h) => h.alive) : undefined;
        return {
          id: t.id,
          app: t.appId,
          agent: agent.name,
          netns: mode === 'host' ? agent.netns : `${agent.netns}-${suffix}`,
          ips: t.ipAddresses.map((i) => i.ipAddress),
          ports: t.ports,
          mode,
          ...(healthy !== undefined && { healthy }),
        };
      })
      .sort((a, b) => (a.app + a.agent < b.app + b.agent ? -1 : 1));
  }

  /** The VIP table the master published (read from its store). */
  async vips(): Promise<VipTable> {
    const { cluster } = this;
    const text = await cluster.httpPost(cluster.master.host, `${cluster.master.url}${STORE_PREFIX}/range`, {
      prefix: VIPS_PREFIX,
    });
    return vipTableFromKvs((JSON.parse(text) as { kvs: { key: string; value: string }[] }).kvs).table;
  }

  /** Sends `n` requests to a VIP from a namespace; answers by task id ('FAIL' for a failure). */
  async hitVip(netns: string, ip: string, port: number, n: number): Promise<Map<string, number>> {
    const host = ip.includes(':') ? `[${ip}]` : ip;
    const script = `for i in $(seq ${n}); do curl -s -g -m 2 http://${host}:${port}/ | head -1 | grep . || echo FAIL; done`;
    const { stdout } = await this.cluster.tb.exec(netns, 'sh', ['-c', script], {
      timeoutMs: 10_000 + n * 2500,
    });
    const out = new Map<string, number>();
    for (const line of stdout.split('\n').filter(Boolean)) out.set(line, (out.get(line) ?? 0) + 1);
    return out;
  }

  /** A detached demo is kept alive by its daemons, not by the process that started it. */
  async handOver(): Promise<void> {
    const json = await this.clusterJson();
    await this.cluster.tb.ownedBy(json.pids);
  }

  async clusterJson(): Promise<ClusterJson> {
    const { cluster } = this;
    const pids = [
      cluster.master.proc,
      ...[...cluster.agents.values()].map((a) => a.proc),
      ...(this.lb ? [this.lb] : []),
      this.emulator,
    ].map((p) => p.proc.pid!);
    const { master, agents } = this.nodes();
    return {
      prefix: cluster.tb.prefix,
      workdir: this.workdir,
      master,
      agents: agents.map(({ name, netns, ip, public: isPublic }) => ({ name, netns, ip, public: isPublic })),
      tasks: await this.tasks(),
      mesos: this.mesosUrl,
      marathon: this.marathonUrl,
      dcnet_master: cluster.master.url,
      operator_tls: this.operatorTls(),
      pids,
      ready_seconds: Math.round(this.readyMs / 100) / 10,
    };
  }

  private operatorTls(): ClusterJson['operator_tls'] {
    const t = this.cluster.tls.get('operator');
    if (!t) throw new Error('the demo cluster has no operator certificate');
    return t;
  }

  /** Where `ip`:`port` of a task is reached from another node. */
  private static endpoint(t: DemoTask, agentIp: string): string {
    if (t.mode === 'container') return `${t.ips[0]}:80`;
    return `${agentIp}:${t.ports[0]}`;
  }

  async report(): Promise<string> {
    const { cluster } = this;
    const m = cluster.master.host;
    const lines = [
      `dcnet demo ready in ${(this.readyMs / 1000).toFixed(1)} s (workdir ${this.workdir})`,
      '',
      'Nodes:',
      `  master  ${m.netns.padEnd(18)} ${m.ip.padEnd(13)} Mesos ${this.mesosUrl}  Marathon ${this.marathonUrl}  dcnet master ${cluster.master.url}`,
    ];
    const agentIp = new Map<string, string>();
    for (const [name, a] of cluster.agents) {
      agentIp.set(name, a.host.ip);
      const info = await cluster.agentInfo(name);
      const vx = info.overlays?.[0]?.backend.vxlan;
      const slices = (info.overlays ?? [])
        .map((o: NonNullable<AgentInfo['overlays']>[number]) => `${o.info.name} ${o.subnet ?? o.subnet6}`)
        .join('  ');
      lines.push(
        `  ${name.padEnd(6)}  ${a.host.netns.padEnd(18)} ${a.host.ip.padEnd(13)} ${this.publicAgents.has(name) ? 'public ' : 'private'}  vtep ${vx?.vtep_ip ?? '-'}  ${slices}`,
      );
    }
    lines.push('', 'Tasks (each answers with its task id):');
    const tasks = await this.tasks();
    for (const t of tasks) {
      const where =
        t.mode === 'container'
          ? `${t.ips[0]}:80 (overlay dcos)`
          : t.mode === 'container/bridge'
            ? `${agentIp.get(t.agent)}:${t.ports[0]} -> bridge ${t.ips[0]}:8080`
            : `${agentIp.get(t.agent)}:${t.ports[0]} (host)`;
      lines.push(
        `  ${t.app.padEnd(9)} ${t.agent.padEnd(3)} ${where.padEnd(44)} ${t.healthy === undefined ? '' : t.healthy ? 'healthy' : 'UNHEALTHY'}  ${t.id}`,
      );
    }
    const web = tasks.find((t) => t.app === '/web');
    const other = [...cluster.agents.entries()].find(([name]) => name !== web?.agent);
    lines.push(
      '',
      'Try:',
      ...(web && other
        ? [
            `  ip netns exec ${other[1].host.netns} curl -s http://${web.ips[0]}/        # a web task across the overlay`,
          ]
        : []),
      `  ip netns exec ${m.netns} curl -s ${this.marathonUrl}/v2/apps?embed=apps.tasks`,
      `  ip netns exec ${m.netns} curl -s ${this.mesosUrl}/master/state`,
      `  ip netns exec ${m.netns} curl -s --cacert ${this.operatorTls().ca} --cert ${this.operatorTls().cert} --key ${this.operatorTls().key} ${cluster.master.url}/overlay-master/state`,
      `  ip netns exec ${m.netns} ${DCNET_BIN} status --tls-dir ${this.operatorTls().dir} --master ${cluster.master.url}`,
      ...(other
        ? [
            `  ip netns exec ${other[1].host.netns} dig +short @${SPARTAN} web.marathon.autoip.dcos.thisdcos.directory`,
            `  ip netns exec ${other[1].host.netns} dig +short @${SPARTAN} _web._tcp.marathon.mesos SRV`,
          ]
        : []),
      `  ip netns exec ${m.netns} curl -s http://${m.ip}:8123/v1/enumerate    # Mesos-DNS on the master`,
      ...(web
        ? [`  ip netns exec ${web.netns} dig +short ${DEMO_OUTSIDE_NAME}    # a task: forwarded upstream`]
        : []),
      `  ip netns exec ${m.netns} curl -s -H 'Host: ${DEMO_VHOST}' http://${cluster.agent(DEMO_LB_AGENT).host.ip}/   # layer 7 (dcnet lb)`,
      `  ip netns exec ${m.netns} curl -s http://${cluster.agent(DEMO_LB_AGENT).host.ip}:9090/_haproxy_getconfig`,
    );
    const vips = await this.vips().catch(() => ({ vips: [] }) as VipTable);
    if (vips.vips.length > 0) {
      lines.push('', 'VIPs (layer 4, programmed on every agent):');
      for (const v of vips.vips) {
        const addr = v.family === 6 ? `[${v.ip}]:${v.port}` : `${v.ip}:${v.port}`;
        lines.push(
          `  ${(v.name ? vipFqdn(v.name).slice(0, -1) : '(IP VIP)').padEnd(44)} ${v.protocol} ${addr.padEnd(22)} ${v.backends.length} backends`,
        );
      }
      const first = vips.vips.find((v) => v.family === 4);
      if (first && other)
        lines.push(`  ip netns exec ${other[1].host.netns} curl -s http://${first.ip}:${first.port}/`);
    }
    return lines.join('\n');
  }

  /** Verifies every capability end to end. */
  async check(): Promise<CheckResult[]> {
    const { cluster } = this;
    const results: CheckResult[] = [];
    const record = async (name: string, fn: () => Promise<string>): Promise<void> => {
      try {
        results.push({ name, ok: true, detail: await fn() });
      } catch (err) {
        results.push({ name, ok: false, detail: (err as Error).message.split('\n')[0]! });
      }
    };
    const names = [...cluster.agents.keys()];
    await record('overlay: every agent configured (STATUS_OK)', async () => {
      for (const n of names) {
        const info = await cluster.agentInfo(n);
        const bad = (info.overlays ?? []).filter((o) => o.state?.status !== 'STATUS_OK');
        if (bad.length || !info.overlays?.length)
          throw new Error(`${n}: ${JSON.stringify(bad.map((o) => [o.info.name, o.state]))}`);
      }
      return `${names.length} agents`;
    });
    await record('overlay: every agent routes to every other agent', async () => {
      const infos = new Map(
        await Promise.all(names.map(async (n) => [n, await cluster.agentInfo(n)] as const)),
      );
      for (const n of names) {
        const { stdout } = await cluster.tb.exec(cluster.agent(n).host.netns, 'ip', [
          'route',
          'show',
          'proto',
          '97',
        ]);
        for (const [other, info] of infos) {
          const slice = info.overlays?.find((o) => o.info.name === 'dcos')?.subnet;
          if (other !== n && slice && !stdout.includes(`${slice} via`))
            throw new Error(`${n} has no route to ${other}'s ${slice}`);
        }
      }
      return `${names.length * (names.length - 1)} routes`;
    });
    const tasks = await this.tasks();
    await record('Marathon and Mesos agree on the running tasks', async () => {
      const state = JSON.parse(
        await cluster.httpGet(cluster.master.host, `${this.mesosUrl}/master/state`),
      ) as {
        frameworks: { tasks: { id: string; state: string }[] }[];
      };
      const mesos = new Set(
        state.frameworks[0]!.tasks.filter((t) => t.state === 'TASK_RUNNING').map((t) => t.id),
      );
      const missing = tasks.filter((t) => !mesos.has(t.id));
      if (missing.length || tasks.length !== 7)
        throw new Error(
          `${tasks.length} tasks in Marathon, missing in Mesos: ${missing.map((t) => t.id).join(', ')}`,
        );
      return `${tasks.length} tasks`;
    });
    await record('every task answers with its id from another node', async () => {
      for (const t of tasks) {
        const from = names.find((n) => n !== t.agent)!;
        const target = Demo.endpoint(t, cluster.agent(t.agent).host.ip);
        const { stdout } = await cluster.tb.exec(cluster.agent(from).host.netns, 'curl', [
          '-s',
          '-m',
          '3',
          `http://${target}/`,
        ]);
        if (stdout.split('\n')[0] !== t.id)
          throw new Error(
            `${t.id} at ${target} from ${from} answered ${JSON.stringify(stdout.slice(0, 80))}`,
          );
      }
      return `${tasks.length} tasks (overlay, bridge, host)`;
    });
    await record('l4lb: every app VIP reaches all its instances from every agent, no failure', async () => {
      const { vips } = await this.vips();
      let requests = 0;
      for (const app of ['/web', '/legacy', '/hostsvc']) {
        const v = vips.find((x) => x.family === 4 && x.name?.label.replace(/^\//, '') === app.slice(1));
        if (!v) throw new Error(`no VIP for ${app} (${vips.length} VIPs published)`);
        const want = tasks.filter((t) => t.app === app).map((t) => t.id);
        for (const n of names) {
          const seen = await this.hitVip(cluster.agent(n).host.netns, v.ip, v.port, want.length * 6);
          requests += want.length * 6;
          const missing = want.filter((id) => !seen.has(id));
          const foreign = [...seen.keys()].filter((id) => !want.includes(id));
          if (missing.length || foreign.length)
            throw new Error(
              `${app} VIP ${v.ip}:${v.port} from ${n}: ${JSON.stringify([...seen])} (missing ${missing.join(', ') || '-'})`,
            );
        }
      }
      return `3 VIPs × ${names.length} agents, ${requests} requests`;
    });
    await record('health checks: every web task healthy', async () => {
      const web = tasks.filter((t) => t.app === '/web');
      if (web.length !== 3 || !web.every((t) => t.healthy))
        throw new Error(JSON.stringify(web.map((t) => [t.id, t.healthy])));
      return '3 of 3';
    });
    await record('dns: every node answers ready.spartan, thisnode and the task names', async () => {
      const webIps = tasks
        .filter((t) => t.app === '/web')
        .flatMap((t) => t.ips)
        .sort();
      const name = 'web.marathon.autoip.dcos.thisdcos.directory';
      for (const n of names) {
        const ns = cluster.agent(n).host.netns;
        const dig = async (q: string): Promise<string[]> =>
          (await cluster.tb.exec(ns, 'dig', ['+short', '+time=2', '+tries=1', `@${SPARTAN}`, q])).stdout
            .split('\n')
            .filter(Boolean)
            .sort();
        const ready = await dig('ready.spartan');
        if (ready.join() !== '127.0.0.1')
          throw new Error(`${n}: ready.spartan → ${ready.join() || 'nothing'}`);
        const self = await dig('thisnode.thisdcos.directory');
        if (self.join() !== cluster.agent(n).host.ip) throw new Error(`${n}: thisnode → ${self.join()}`);
        // The zone reaches the nodes within a few seconds of the tasks running.
        const deadline = Date.now() + 15_000;
        let got = await dig(name);
        while (got.join() !== webIps.join() && Date.now() < deadline) {
          await sleep(500);
          got = await dig(name);
        }
        if (got.join() !== webIps.join())
          throw new Error(`${n}: ${name} → ${got.join() || 'nothing'}, want ${webIps.join()}`);
      }
      return `${names.length} nodes, ${name} → ${webIps.length} overlay IPs`;
    });
    await record(
      'dns: .mesos names from Mesos-DNS on the master, mirrored as mesos.thisdcos.directory',
      async () => {
        const agentIps = [
          ...new Set(tasks.filter((t) => t.app === '/web').map((t) => cluster.agent(t.agent).host.ip)),
        ].sort();
        const ns = cluster.agent(names[0]!).host.netns;
        const dig = async (q: string, type = 'A'): Promise<string> =>
          (await cluster.tb.exec(ns, 'dig', ['+short', '+time=2', '+tries=1', `@${SPARTAN}`, q, type])).stdout
            .split('\n')
            .filter(Boolean)
            .sort()
            .join();
        for (const q of ['web.marathon.mesos', 'web.marathon.mesos.thisdcos.directory']) {
          const deadline = Date.now() + 15_000;
          let got = await dig(q);
          while (got !== agentIps.join() && Date.now() < deadline) {
            await sleep(500);
            got = await dig(q);
          }
          if (got !== agentIps.join()) throw new Error(`${q} → ${got || 'nothing'}, want ${agentIps.join()}`);
        }
        const srv = await dig('_web._tcp.marathon.mesos', 'SRV');
        if (srv.split(',').length !== 3)
          throw new Error(`_web._tcp.marathon.mesos SRV → ${srv || 'nothing'}`);
        return `web.marathon.mesos → ${agentIps.length} agents, SRV ×3, mirror identical`;
      },
    );
    await record('dns: a task resolves cluster names and outside names through its node', async () => {
      const task = tasks.find((t) => t.app === '/web')!;
      const dig = async (q: string): Promise<string> =>
        (
          await run('ip', ['netns', 'exec', task.netns, 'dig', '+short', '+time=2', '+tries=1', q])
        ).stdout.trim();
      const legacy = await dig('legacy.marathon.agentip.dcos.thisdcos.directory');
      const agentIps = tasks.filter((t) => t.app === '/legacy').map((t) => cluster.agent(t.agent).host.ip);
      if (!legacy || !legacy.split('\n').every((ip) => agentIps.includes(ip)))
        throw new Error(`legacy agentip → ${legacy || 'nothing'}, want one of ${agentIps.join()}`);
      const outside = await dig(DEMO_OUTSIDE_NAME);
      if (outside !== DEMO_OUTSIDE_IP) throw new Error(`${DEMO_OUTSIDE_NAME} → ${outside || 'nothing'}`);
      return `from ${task.id}: agentip names and ${DEMO_OUTSIDE_NAME} (forwarded upstream)`;
    });
    await record('l4lb + dns: every node names the VIPs; a task reaches web by its VIP name', async () => {
      const table = await this.vips();
      const named = table.vips.filter((v) => v.name && v.family === 4);
      if (named.length === 0) throw new Error('no named VIPs in the table');
      for (const n of names) {
        const ns = cluster.agent(n).host.netns;
        for (const v of named) {
          const fqdn = vipFqdn(v.name!).slice(0, -1);
          const deadline = Date.now() + 10_000;
          let got = '';
          for (;;) {
            got = (
              await cluster.tb.exec(ns, 'dig', ['+short', '+time=2', '+tries=1', `@${SPARTAN}`, fqdn])
            ).stdout.trim();
            if (got === v.ip || Date.now() > deadline) break;
            await sleep(300);
          }
          if (got !== v.ip) throw new Error(`${n}: ${fqdn} → ${got || 'nothing'}, want ${v.ip}`);
        }
      }
      const from = tasks.find((t) => t.app === '/legacy')!;
      const webIds = new Set(tasks.filter((t) => t.app === '/web').map((t) => t.id));
      const { stdout } = await run('ip', [
        'netns',
        'exec',
        from.netns,
        'curl',
        '-s',
        '-m',
        '3',
        'http://web.marathon.l4lb.thisdcos.directory/',
      ]);
      const id = stdout.split('\n')[0]!;
      if (!webIds.has(id))
        throw new Error(`curl web.marathon.l4lb.thisdcos.directory from ${from.id} → ${JSON.stringify(id)}`);
      return `${named.length} VIP names on ${names.length} nodes; ${from.app} task → web by name`;
    });
    await record(`layer 7: ${DEMO_VHOST} on the public agent reaches every web task`, async () => {
      const web = new Set(tasks.filter((t) => t.app === '/web').map((t) => t.id));
      const lbIp = cluster.agent(DEMO_LB_AGENT).host.ip;
      const from = cluster.master.host.netns;
      const seen = new Set<string>();
      for (let i = 0; i < 12 && seen.size < web.size; i++) {
        const { stdout } = await cluster.tb.exec(from, 'curl', [
          '-s',
          '-m',
          '3',
          '-H',
          `Host: ${DEMO_VHOST}`,
          `http://${lbIp}/`,
        ]);
        const id = stdout.split('\n')[0]!;
        if (!web.has(id)) throw new Error(`answered ${JSON.stringify(stdout.slice(0, 80))}, not a web task`);
        seen.add(id);
      }
      if (seen.size !== web.size) throw new Error(`only ${seen.size} of ${web.size} web tasks answered`);
      const { stdout } = await cluster.tb.exec(from, 'curl', [
        '-s',
        '-m',
        '3',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-H',
        'Host: nosuch.example.test',
        `http://${lbIp}/`,
      ]);
      if (stdout !== '503') throw new Error(`an unknown vhost answered ${stdout}, not 503`);
      return `${seen.size} of ${web.size} tasks via ${lbIp}:80`;
    });
    return results;
  }

  async destroy(): Promise<void> {
    await this.lb?.stop();
    await this.emulator?.stop();
    await this.cluster.destroy();
  }

  /** `dcnet demo --down`: stops what a detached demo left running and removes it. */
  static async down(workdir: string): Promise<string> {
    const file = join(workdir, 'cluster.json');
    const c = JSON.parse(await readFile(file, 'utf8')) as ClusterJson;
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // The emulator last in the list: stop it first so it can detach its tasks cleanly.
    for (const pid of [...c.pids].reverse()) if (alive(pid)) process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (c.pids.some(alive) && Date.now() < deadline) await sleep(100);
    for (const pid of c.pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    const removed = await sweepStale(c.prefix);
    await rm(workdir, { recursive: true, force: true });
    return `removed ${removed.length} namespaces and ${workdir}`;
  }
}
