// The overlay agent (`dcnet agent`), one per node: registers with the master, configures the
// node's overlays (CNI configs, Docker network, masquerading, vtep1024), publishes its overlay info
// into the store under a lease, and programs routes, neighbours and FDB entries for every peer it
// sees there. What is programmed stays programmed while the master or store is away.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DockerClient, ensureSysctl, nftApply, type RunOptions } from '../../kernel/index.js';
import { StoreError, type Store, type Watch, type WatchEvent } from '../../store/index.js';
import { plainClient, type ControlClient } from '../../pki/index.js';
import { DEFAULT_VTEP_MTU } from '../../config/index.js';
import { agentInfoJson } from '../render.js';
import {
  agentInfoSchema,
  nodeKey,
  NODES_PREFIX,
  type AgentInfo,
  type AgentOverlayInfo,
  type OverlayStatus,
} from '../types.js';
import {
  DataplaneReconciler,
  deriveDataplane,
  nodeInfoSchema,
  type NodeInfo,
  type ReconcileResult,
} from '../dataplane/index.js';
import { renderCniConflist, renderDcosPortMapperConf } from './cni.js';
import { dockerNetworkDifferences, dockerNetworkSpec } from './docker-network.js';
import { renderMasqueradeTable } from './masquerade.js';
import { abortableSleep, retry } from './backoff.js';

export interface AgentOptions {
  /** The masters (HA: any of them answers; the agent moves on when one does not). */
  readonly masterUrls: readonly string[];
  /** This node's underlay IPv4 address (its identity at the master, the VXLAN endpoint). */
  readonly ip: string;
  readonly cniDir: string;
  readonly cniDataDir?: string;
  /** Also write the DC/OS `mesos-cni-port-mapper` form (`<name>.conf`). */
  readonly dcosPortMapper?: boolean;
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
export function nodeInfoFrom(info: AgentInfo, ok: (name: string) => boolean): NodeInfo | undefined {
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
  private info: AgentInfo | undefined;
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

  constructor(private readonly o: AgentOptions) {
    this.reconciler = new DataplaneReconciler(
      o.log.child({ part: 'dataplane' }),
      o.kernel ?? {},
      o.onApplied,
    );
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

  private async registerOnce(): Promise<AgentInfo> {
    const master = this.o.masterUrls[this.masterIndex++ % this.o.masterUrls.length]!;
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
    const text = await res.text();
    if (!res.ok) throw new Error(`master ${master} answered ${res.status}: ${text.slice(0, 300)}`);
    this.masterIndex--; // it answered: keep using it
    const parsed = agentInfoSchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      throw new Error(
        `master's answer is not an AgentInfo: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    return parsed.data as AgentInfo;
  }

  private async onRegistered(info: AgentInfo): Promise<void> {
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

  private async configure(info: AgentInfo): Promise<void> {
    this.attempts++;
    const overlays = info.overlays ?? [];
    for (const o of overlays) this.states.set(o.info.name, { status: 'STATUS_CONFIGURING' });
    for (const name of [...this.states.keys()])
      if (!overlays.some((o) => o.info.name === name)) this.states.delete(name);
    const nodeErrors: string[] = [];
    try {
      await ensureSysctl('net.ipv4.ip_forward', '1');
      if (overlays.some((o) => o.subnet6 !== undefined))
        await ensureSysctl('net.ipv6.conf.all.forwarding', '1');
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
        const v4 = overlays.map((o) => o.info.subnet).filter((s): s is string => s !== undefined);
        const v6 = overlays.map((o) => o.info.subnet6).filter((s): s is string => s !== undefined);
        await nftApply(renderMasqueradeTable(v4, v6), this.o.kernel);
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

  private async writeCni(o: AgentOverlayInfo): Promise<void> {
    const opts = {
      mtu: this.o.overlayMtu,
      ...(this.o.cniDataDir !== undefined && { dataDir: this.o.cniDataDir }),
    };
    const list = renderCniConflist(o, opts);
    if (!list) return;
    await mkdir(this.o.cniDir, { recursive: true });
    await writeFileAtomic(
      join(this.o.cniDir, `${o.info.name}.conflist`),
      `${JSON.stringify(list, null, 2)}\n`,
    );
    if (this.o.dcosPortMapper) {
      const conf = renderDcosPortMapperConf(o, opts);
      if (conf !== undefined) await writeFileAtomic(join(this.o.cniDir, `${o.info.name}.conf`), conf);
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

  private async ensureDockerNetwork(docker: DockerClient, o: AgentOverlayInfo): Promise<void> {
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
        clearInterval(this.keepAliveTimer);
        this.keepAliveTimer = setInterval(
          () => void this.keepAlive(),
          Math.max(200, (this.o.gracePeriodS * 1000) / 3),
        );
        this.keepAliveTimer.unref();
      }
      await store.put(nodeKey(self.ip), JSON.stringify(self), { lease: this.lease });
      this.storeUp();
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

  private parsePeer(key: string, value: string): NodeInfo | undefined {
    try {
      const parsed = nodeInfoSchema.safeParse(JSON.parse(value));
      if (parsed.success) return parsed.data;
      this.o.log.warn(
        { key, problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) },
        'ignoring malformed peer info',
      );
    } catch {
      this.o.log.warn({ key }, 'ignoring peer info that is not JSON');
    }
    return undefined;
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
    for (const p of problems) this.o.log.warn(p, 'ignoring peer');
    void this.reconciler.request(desired, full);
  }
}
