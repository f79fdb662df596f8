// The overlay agent (`dcnet agent`), one per node: registers with the master, configures the
// node's overlays (CNI configs, Docker network, masquerading, vtep1024), publishes its overlay info
// into the store under a lease, and programs routes, neighbours and FDB entries for every peer it
// sees there. What is programmed stays programmed while the master or store is away.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { applyMasquerade, DockerClient, ensureSysctl, type RunOptions } from '../../kernel/index.js';
import { describeIssues, must, parseIpv4, type Ipv4, type Ipv4Cidr, type Ipv6Cidr } from '../../net/index.js';
import { Rejections } from '../../reconcile/index.js';
import {
  CLUSTER_ID_HEADER,
  HttpStore,
  MEMBER_ID_HEADER,
  StoreError,
  type Store,
  type Watch,
  type WatchEvent,
} from '../../store/index.js';
import { plainClient, type ControlClient } from '../../pki/index.js';
import { DEFAULT_VTEP_MTU } from '../../config/index.js';
import { agentInfoJson } from '../render.js';
import {
  nodeKey,
  nodeStatusKey,
  NODES_PREFIX,
  parseAgentInfo,
  type AgentInfo,
  type AgentOverlayInfo,
  type NodeStatus,
  type OverlayStatus,
  type ParsedAgentInfo,
  type ParsedAgentOverlay,
} from '../types.js';
import {
  DataplaneReconciler,
  deriveDataplane,
  nodeInfoSchema,
  type NodeInfo,
  type ReconcileResult,
} from '../dataplane/index.js';
import { cniConfigPath, renderCniConflist, renderDcosPortMapperConf, renderMesosCniConf } from './cni.js';
import { dockerNetworkDifferences, dockerNetworkSpec } from './docker-network.js';
import { abortableSleep, retry } from './backoff.js';

export interface AgentOptions {
  /** The masters (HA: any of them answers; the agent moves on when one does not). */
  readonly masterUrls: readonly string[];
  /** This node's underlay IPv4 address (its identity at the master, the VXLAN endpoint). */
  readonly ip: string;
  /** The Mesos agent's --network_cni_config_dir: one `<name>.conf` per overlay. */
  readonly cniDir: string;
  readonly cniDataDir?: string;
  /** Write DC/OS' own `<name>.conf` byte for byte (IPv4 only) instead of the dual-stack form. */
  readonly dcosPortMapper?: boolean;
  /** Also write `<name>.conflist` (bridge + portmap) here, for CNI runtimes that take conflists.
   *  A separate directory: Mesos would log every conflist in its own as unparsable. */
  readonly cniConflistDir?: string;
  readonly mesosBridge: boolean;
  readonly dockerBridge: boolean;
  readonly overlayMtu: number;
  readonly enableIpv6: boolean;
  readonly dockerSocket: string;
  /** TTL of the published node info: how long peers keep routes to a node whose agent is gone. */
  readonly gracePeriodS: number;
  readonly resyncMs: number;
  readonly reregisterMs: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly store: Store;
  /** How the agent calls the masters (TLS with its certificate; plain without). */
  readonly client?: ControlClient;
  readonly log: Logger;
  readonly kernel?: RunOptions;
  readonly onApplied?: (result: ReconcileResult, ms: number) => void;
  /** Where refused inputs are recorded (shared with the node's other roles). */
  readonly rejections?: Rejections;
}

interface OverlayState {
  status: OverlayStatus;
  error?: string;
}

async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** The node's publication, from the master's answer; only overlays configured without error. */
export function nodeInfoFrom(info: ParsedAgentInfo, ok: (name: string) => boolean): NodeInfo | undefined {
  const first = info.overlays?.[0];
  if (!first) return undefined;
  const vx = first.backend.vxlan;
  return {
    ip: info.ip,
    vtep: { ip: vx.vtep_ip, ...(vx.vtep_ip6 !== undefined && { ip6: vx.vtep_ip6 }), mac: vx.vtep_mac },
    overlays: (info.overlays ?? [])
      .filter((o) => ok(o.info.name))
      .map((o) => ({
        name: o.info.name,
        ...(o.info.subnet !== undefined && { overlay_subnet: o.info.subnet }),
        ...(o.info.subnet6 !== undefined && { overlay_subnet6: o.info.subnet6 }),
        ...(o.subnet !== undefined && { subnet: o.subnet }),
        ...(o.subnet6 !== undefined && { subnet6: o.subnet6 }),
      })),
  };
}

export class OverlayAgent {
  private info: ParsedAgentInfo | undefined;
  private readonly states = new Map<string, OverlayState>();
  private attempts = 0;
  private self: NodeInfo | undefined;
  private vtepMtu = DEFAULT_VTEP_MTU;
  private readonly peers = new Map<string, NodeInfo>();
  private lease: string | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private watch: Watch | undefined;
  private readonly abort = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly reconciler: DataplaneReconciler;
  private registering: Promise<void> | undefined;
  private storeReachable = true;
  private masterIndex = 0;
  /** Docker was not reachable at the last configuration: retried on every resync. */
  private dockerPending = false;
  private dockerRetrying = false;
  private readonly ip: Ipv4;
  readonly rejections: Rejections;
  private statusTimer: NodeJS.Timeout | undefined;
  private statusWritten: string | undefined;
  private resolvConf: NodeStatus['resolv_conf'];

  constructor(private readonly o: AgentOptions) {
    this.ip = must(parseIpv4(o.ip, 'ip'));
    this.rejections = o.rejections ?? new Rejections(o.log);
    this.reconciler = new DataplaneReconciler(
      o.log.child({ part: 'dataplane' }),
      o.kernel ?? {},
      o.onApplied,
    );
    this.rejections.onChange(() => this.publishStatusSoon());
  }

  get registered(): boolean {
    return this.info !== undefined;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  get dataplaneError(): string | undefined {
    return this.reconciler.error;
  }

  /** Entries the kernel refused in the last data plane run (the rest was applied). */
  get dataplaneFailures(): ReconcileResult['failures'] {
    return this.reconciler.failures;
  }

  /** This node's status: what it refused and what its kernel refused. `limit` bounds the list (the
   *  published document, `overlay/node-status/<ip>`, keeps it small; the count says how many). */
  /** The resolv.conf mode the DNS role reports, published with the node's status. */
  setResolvConfMode(mode: NonNullable<NodeStatus['resolv_conf']>): void {
    this.resolvConf = mode;
    this.publishStatusSoon();
  }

  status(limit = 100): NodeStatus {
    const error = this.reconciler.error;
    return {
      ip: this.ip,
      updated: new Date().toISOString(),
      ...(this.resolvConf !== undefined && { resolv_conf: this.resolvConf }),
      rejected_keys: this.rejections.size,
      rejected: this.rejections
        .list(limit)
        .map((r) => ({ ...r, key: r.key.slice(0, 600), problem: r.problem.slice(0, 600) })),
      dataplane: {
        ...(error !== undefined && { error: error.slice(0, 600) }),
        failures: this.reconciler.failures
          .slice(0, 100)
          .map((f) => ({ line: f.line.slice(0, 600), error: f.error.slice(0, 600) })),
      },
      overlays: [...this.states].slice(0, 100).map(([name, st]) => ({
        name: name.slice(0, 600),
        status: st.status,
        ...(st.error !== undefined && { error: st.error.slice(0, 600) }),
      })),
    };
  }

  /** GET /overlay-agent/overlay: the master's answer plus this node's configuration outcome. */
  agentInfo(): AgentInfo {
    const overlays = (this.info?.overlays ?? []).map((o): AgentOverlayInfo => {
      const s = this.states.get(o.info.name);
      return {
        ...o,
        ...(s && { state: { status: s.status, ...(s.error !== undefined && { error: s.error }) } }),
      };
    });
    return { ip: this.o.ip, configuration_attempts: this.attempts, ...(overlays.length > 0 && { overlays }) };
  }

  agentInfoJson(): string {
    return agentInfoJson(this.agentInfo());
  }

  /** Starts registration (retried in the background) and the peer watch. */
  start(): void {
    void this.ensureRegistered();
    this.startWatch();
    this.timers.push(setInterval(() => this.resync(), this.o.resyncMs));
    this.timers.push(setInterval(() => void this.ensureRegistered(), this.o.reregisterMs));
    for (const t of this.timers) t.unref();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    for (const t of this.timers) clearInterval(t);
    clearInterval(this.keepAliveTimer);
    clearTimeout(this.statusTimer);
    this.watch?.close();
    // The lease is left to expire: a restart within the grace period keeps routes everywhere.
  }

  /** Registers (or re-registers) with backoff; one run at a time. */
  ensureRegistered(): Promise<void> {
    this.registering ??= retry(() => this.registerOnce(), {
      minMs: this.o.backoffMinMs,
      maxMs: this.o.backoffMaxMs,
      signal: this.abort.signal,
      onRetry: (err, attempt, waitMs) =>
        this.o.log.warn(
          {
            // A refused TLS handshake says why only in the cause.
            err: [err as Error, (err as Error).cause as Error | undefined]
              .filter((e) => e?.message)
              .map((e) => e!.message)
              .join(': '),
            attempt,
            waitMs,
          },
          'registration with the overlay master failed; retrying',
        ),
    })
      .then(async (info) => this.onRegistered(info))
      .catch((err: unknown) => {
        if (!this.abort.signal.aborted) this.o.log.error({ err }, 'registration stopped');
      })
      .finally(() => {
        this.registering = undefined;
      });
    return this.registering;
  }

  private async registerOnce(): Promise<ParsedAgentInfo> {
    const master = this.o.masterUrls[this.masterIndex++ % this.o.masterUrls.length]!;
    // An allocation from a master of another store than ours would be a second, independent one.
    if (this.o.store instanceof HttpStore) await this.o.store.verifyMaster(master);
    const res = await (this.o.client ?? plainClient).fetch(`${master}/overlay-master/agents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ip: this.o.ip,
        mesos_bridge: this.o.mesosBridge,
        docker_bridge: this.o.dockerBridge,
      }),
      signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(15_000)]),
    });
    if (this.o.store instanceof HttpStore) {
      try {
        this.o.store.verifyCluster(
          master,
          res.headers.get(CLUSTER_ID_HEADER),
          res.headers.get(MEMBER_ID_HEADER),
        );
      } catch (err) {
        await res.body?.cancel().catch(() => {});
        throw err;
      }
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`master ${master} answered ${res.status}: ${text.slice(0, 300)}`);
    this.masterIndex--; // it answered: keep using it
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      doc = undefined;
    }
    const { info, rejected } = parseAgentInfo(doc);
    // Parts of the answer refused now are listed; parts refused before and fine now are not.
    this.rejections.retainOnly('master', new Set(rejected.map((r) => `agent-info ${r.part}`)));
    for (const r of rejected) this.rejections.reject('master', `agent-info ${r.part}`, r.fields);
    if (!info) throw new Error(`master ${master}'s answer is not an AgentInfo; see the rejected inputs`);
    if (info.ip !== this.ip) {
      this.rejections.reject('master', 'agent-info answer', [
        { field: 'ip', problem: `is ${info.ip}, not this node (${this.ip})` },
      ]);
      throw new Error(`master ${master} answered for ${info.ip}, not for this node`);
    }
    return info;
  }

  private async onRegistered(info: ParsedAgentInfo): Promise<void> {
    const same = this.info !== undefined && agentInfoJson(this.info) === agentInfoJson(info);
    const allOk = [...this.states.values()].every((s) => s.status === 'STATUS_OK');
    if (same && allOk && this.states.size === (info.overlays?.length ?? 0)) {
      await this.publish();
      return;
    }
    if (this.info && !same) this.o.log.warn('the master answered a different allocation; reconfiguring');
    this.info = info;
    this.o.log.info(
      { overlays: (info.overlays ?? []).map((o) => o.subnet ?? o.subnet6 ?? o.info.name) },
      'registered with the overlay master',
    );
    await this.configure(info);
    await this.publish();
    await this.acknowledge();
  }

  private async configure(info: ParsedAgentInfo): Promise<void> {
    this.attempts++;
    const overlays = info.overlays ?? [];
    for (const o of overlays) this.states.set(o.info.name, { status: 'STATUS_CONFIGURING' });
    for (const name of [...this.states.keys()])
      if (!overlays.some((o) => o.info.name === name)) this.states.delete(name);
    const nodeErrors: string[] = [];
    try {
      await ensureSysctl('net.ipv4.ip_forward', '1', this.o.kernel);
      if (overlays.some((o) => o.subnet6 !== undefined))
        await ensureSysctl('net.ipv6.conf.all.forwarding', '1', this.o.kernel);
    } catch (err) {
      nodeErrors.push(`sysctl: ${(err as Error).message}`);
    }
    this.vtepMtu = overlays[0]?.backend.vxlan.vtep_mtu ?? DEFAULT_VTEP_MTU;
    // The VTEP first: without it no overlay works. Peers are added as they are seen.
    this.self = nodeInfoFrom(info, () => true);
    if (this.self) {
      await this.reconciler.request(
        deriveDataplane(this.self, [...this.peers.values()], this.vtepMtu).desired,
      );
      if (this.reconciler.error) nodeErrors.push(`vtep: ${this.reconciler.error}`);
    }
    if (this.o.mesosBridge || this.o.dockerBridge) {
      try {
        const overlays4 = overlays.map((o) => o.info.subnet).filter((s): s is Ipv4Cidr => s !== undefined);
        const overlays6 = overlays.map((o) => o.info.subnet6).filter((s): s is Ipv6Cidr => s !== undefined);
        await applyMasquerade({ overlays4, overlays6 }, this.o.kernel);
      } catch (err) {
        nodeErrors.push(`masquerade: ${(err as Error).message}`);
      }
    }
    const docker = this.o.dockerBridge ? await this.dockerIfReachable() : undefined;
    this.dockerPending =
      this.o.dockerBridge && !docker && overlays.some((o) => o.docker_bridge !== undefined);
    for (const o of overlays) {
      const errors = [...nodeErrors];
      if (this.o.mesosBridge) {
        try {
          await this.writeCni(o);
        } catch (err) {
          errors.push(`cni: ${(err as Error).message}`);
        }
      }
      if (docker) {
        try {
          await this.ensureDockerNetwork(docker, o);
        } catch (err) {
          errors.push(`docker: ${(err as Error).message}`);
        }
      }
      const state: OverlayState = errors.length
        ? { status: 'STATUS_FAILED', error: errors.join(';') }
        : { status: 'STATUS_OK' };
      this.states.set(o.info.name, state);
      if (errors.length)
        this.o.log.error({ overlay: o.info.name, error: state.error }, 'overlay configuration failed');
      else this.o.log.info({ overlay: o.info.name }, 'overlay configured');
    }
    this.self = nodeInfoFrom(info, (name) => this.states.get(name)?.status === 'STATUS_OK');
  }

  private async writeCni(o: ParsedAgentOverlay): Promise<void> {
    const opts = {
      mtu: this.o.overlayMtu,
      ...(this.o.cniDataDir !== undefined && { dataDir: this.o.cniDataDir }),
    };
    const conf = this.o.dcosPortMapper ? renderDcosPortMapperConf(o, opts) : renderMesosCniConf(o, opts);
    if (conf !== undefined) {
      await mkdir(this.o.cniDir, { recursive: true });
      await writeFileAtomic(cniConfigPath(this.o.cniDir, o.info.name, 'conf'), conf);
    }
    const list = this.o.cniConflistDir !== undefined ? renderCniConflist(o, opts) : undefined;
    if (list && this.o.cniConflistDir !== undefined) {
      await mkdir(this.o.cniConflistDir, { recursive: true });
      await writeFileAtomic(
        cniConfigPath(this.o.cniConflistDir, o.info.name, 'conflist'),
        `${JSON.stringify(list, null, 2)}\n`,
      );
    }
  }

  private async dockerIfReachable(): Promise<DockerClient | undefined> {
    const docker = new DockerClient(this.o.dockerSocket);
    try {
      await docker.ping();
      return docker;
    } catch (err) {
      this.o.log.info(
        { socket: this.o.dockerSocket, reason: (err as Error).message },
        'no Docker daemon reachable; Docker networks skipped',
      );
      return undefined;
    }
  }

  private async ensureDockerNetwork(docker: DockerClient, o: ParsedAgentOverlay): Promise<void> {
    const spec = dockerNetworkSpec(o, this.o.overlayMtu, this.o.enableIpv6);
    if (!spec) return;
    const existing = await docker.inspectNetwork(spec.Name);
    if (!existing) {
      await docker.createNetwork(spec);
      this.o.log.info(
        { network: spec.Name, subnets: spec.IPAM.Config.map((c) => c.Subnet) },
        'Docker network created',
      );
      return;
    }
    const diff = dockerNetworkDifferences(existing, spec);
    if (diff.length > 0)
      throw new Error(
        `existing network "${spec.Name}" does not match: ${diff.join('; ')} (remove it to let dcnet create it)`,
      );
  }

  private async acknowledge(): Promise<void> {
    try {
      const master =
        this.o.masterUrls[(this.masterIndex + this.o.masterUrls.length) % this.o.masterUrls.length]!;
      const res = await (this.o.client ?? plainClient).fetch(`${master}/overlay-master/agents/ack`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          ip: this.o.ip,
          overlays: [...this.states].map(([name, s]) => ({ name, status: s.status })),
        }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not report overlay status to the master');
    }
  }

  /** Puts this node's info under its lease (granting one if needed) and keeps the lease alive. */
  private async publish(): Promise<void> {
    const self = this.self;
    if (!self || self.overlays.length === 0) return;
    const { store } = this.o;
    try {
      if (this.lease === undefined) {
        this.lease = await store.grantLease(this.o.gracePeriodS);
        this.statusWritten = undefined;
        clearInterval(this.keepAliveTimer);
        this.keepAliveTimer = setInterval(
          () => void this.keepAlive(),
          Math.max(200, (this.o.gracePeriodS * 1000) / 3),
        );
        this.keepAliveTimer.unref();
      }
      await store.put(nodeKey(self.ip), JSON.stringify(self), { lease: this.lease });
      this.storeUp();
      this.publishStatusSoon();
    } catch (err) {
      if (err instanceof StoreError && err.code === 'lease-not-found') {
        this.lease = undefined;
        return this.publish();
      }
      this.storeDown(err);
    }
  }

  private async keepAlive(): Promise<void> {
    if (this.lease === undefined) return;
    try {
      await this.o.store.keepAlive(this.lease);
      this.storeUp();
    } catch (err) {
      if (err instanceof StoreError && err.code === 'lease-not-found') {
        this.o.log.warn(
          'our lease expired (the store was out of reach longer than the grace period); publishing again',
        );
        this.lease = undefined;
        await this.publish();
        return;
      }
      this.storeDown(err);
    }
  }

  private storeUp(): void {
    if (!this.storeReachable) this.o.log.info('store reachable again');
    this.storeReachable = true;
  }

  private storeDown(err: unknown): void {
    if (this.storeReachable) {
      this.o.log.warn(
        { err: (err as Error).message },
        'store unreachable; keeping the programmed data plane',
      );
    }
    this.storeReachable = false;
  }

  /** One peer's publication, parsed; a refused one is recorded (key and field) and skipped. */
  private parsePeer(key: string, value: string): NodeInfo | undefined {
    let doc: unknown;
    try {
      doc = JSON.parse(value);
    } catch {
      this.rejections.reject('peer', key, [{ field: '(value)', problem: 'is not JSON' }]);
      return undefined;
    }
    const parsed = nodeInfoSchema.safeParse(doc);
    if (!parsed.success) {
      this.rejections.reject('peer', key, describeIssues(parsed.error));
      return undefined;
    }
    // A publication sits under its own node's key: one node cannot speak for another.
    if (key !== nodeKey(parsed.data.ip)) {
      this.rejections.reject('peer', key, [
        { field: 'ip', problem: `is ${parsed.data.ip}, not the node of its key` },
      ]);
      return undefined;
    }
    this.rejections.accept('peer', key);
    return parsed.data;
  }

  /** Loads every peer, then follows changes from the next revision; resyncs when history is gone. */
  private startWatch(): void {
    const { store } = this.o;
    const begin = async (): Promise<void> => {
      for (;;) {
        if (this.abort.signal.aborted) return;
        try {
          const { kvs, revision } = await store.range(NODES_PREFIX);
          this.peers.clear();
          this.rejections.retainOnly('peer', new Set(kvs.map((kv) => kv.key)));
          for (const kv of kvs) {
            const peer = this.parsePeer(kv.key, kv.value);
            if (peer) this.peers.set(kv.key, peer);
          }
          this.resync();
          let lost = false;
          this.watch = store.watch({
            prefix: NODES_PREFIX,
            fromRevision: revision + 1,
            onEvents: (events) => this.onPeerEvents(events),
            onError: (err) => {
              this.o.log.warn({ err: err.message }, 'peer watch ended; reloading peers');
              void begin();
            },
            onConnection: (up) => {
              if (!up) lost = true;
              else if (lost) {
                lost = false;
                // The master may have restarted: make sure it still knows us.
                void this.ensureRegistered();
              }
            },
          });
          return;
        } catch (err) {
          this.storeDown(err);
          await abortableSleep(1000, this.abort.signal);
        }
      }
    };
    void begin();
  }

  private onPeerEvents(events: readonly WatchEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'delete') {
        this.peers.delete(ev.kv.key);
        this.rejections.accept('peer', ev.kv.key);
        if (ev.kv.key === nodeKey(this.o.ip) && !this.abort.signal.aborted) {
          this.o.log.warn('our node info was deleted (agent deleted on the master?); registering again');
          this.lease = undefined;
          void this.ensureRegistered();
        }
        continue;
      }
      const peer = this.parsePeer(ev.kv.key, ev.kv.value);
      if (peer) this.peers.set(ev.kv.key, peer);
      else this.peers.delete(ev.kv.key);
    }
    this.resync(false);
  }

  /** A Docker daemon that started after the agent gets its networks at the next resync. */
  private async retryDocker(): Promise<void> {
    if (!this.dockerPending || this.dockerRetrying || !this.info) return;
    this.dockerRetrying = true;
    try {
      const docker = new DockerClient(this.o.dockerSocket);
      try {
        await docker.ping();
      } catch {
        return;
      }
      this.dockerPending = false;
      this.o.log.info({ socket: this.o.dockerSocket }, 'Docker daemon now reachable; creating its networks');
      for (const o of this.info.overlays ?? []) {
        try {
          await this.ensureDockerNetwork(docker, o);
        } catch (err) {
          const error = `docker: ${(err as Error).message}`;
          this.states.set(o.info.name, { status: 'STATUS_FAILED', error });
          this.o.log.error({ overlay: o.info.name, error }, 'overlay configuration failed');
        }
      }
      this.publishStatusSoon();
      await this.acknowledge();
    } finally {
      this.dockerRetrying = false;
    }
  }

  /** Re-derives the data plane from the current view and brings the kernel there: a full run
   *  reads the kernel back and repairs drift; otherwise only the change is applied. */
  resync(full = true): void {
    if (full) void this.retryDocker();
    if (!this.self) return;
    const { desired, problems } = deriveDataplane(this.self, [...this.peers.values()], this.vtepMtu);
    // Conflicts between peers (two claiming one VTEP address or MAC) are refusals of the later one.
    const conflicted = new Set(problems.map((p) => nodeKey(p.peer)));
    for (const p of problems)
      this.rejections.reject('peer', nodeKey(p.peer), [{ field: p.field, problem: p.problem }]);
    for (const key of this.peers.keys()) if (!conflicted.has(key)) this.rejections.accept('peer', key);
    void this.reconciler.request(desired, full).then(() => this.publishStatusSoon());
  }

  /** Writes the status document soon (coalesced), under the node's lease, when it changed. */
  private publishStatusSoon(): void {
    if (this.statusTimer || this.abort.signal.aborted) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      void this.publishStatus();
    }, 200);
    this.statusTimer.unref();
  }

  private async publishStatus(): Promise<void> {
    if (this.lease === undefined) return; // published with the node info once there is a lease
    const { updated: _u, ...doc } = this.status();
    const text = JSON.stringify(doc);
    if (text === this.statusWritten) return;
    try {
      await this.o.store.put(nodeStatusKey(this.ip), JSON.stringify(this.status()), { lease: this.lease });
      this.statusWritten = text;
    } catch (err) {
      this.o.log.debug(
        { err: (err as Error).message },
        'node status not published; retried at the next change',
      );
    }
  }
}
