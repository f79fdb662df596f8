// The dcos-dns server in several processes (node:cluster). Node 20 has no SO_REUSEPORT for
// dgram, but cluster workers binding the same UDP address share one socket, so the kernel hands
// each datagram to whichever worker reads first. Measured on the 2-vCPU VM (bench/dns-qps): a
// single process spends almost all of its busy time in the per-datagram send/receive syscalls (the
// JS part of a query is ~2%), so the only way past one core is more processes.
//
// The primary keeps the zones and the router configuration; it validates every change locally
// (same errors as ZoneResponder.setZone), then sends it to every worker. A worker that dies is
// replaced and gets the current zones. Workers report their counters to the primary every second;
// the primary's registry shows the sums (a worker killed outright loses its last second of counts). Each worker keeps its own upstream failure counts and
// forward cache.
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import type { ClientRateLimitOptions } from './limits.js';
import { DnsMetrics, dnsMetrics, type MetricsDelta } from './metrics.js';
import type { ListenAddress } from './server.js';
import { DnsServer } from './server.js';
import type { Upstream } from './types.js';
import { ZoneResponder, type LoadBalance, type ZoneData } from './zone-responder.js';

/** Router options that can cross a process boundary. */
export interface ClusterRouterOptions {
  readonly clusterId?: string;
  readonly mesosResolvers?: readonly Upstream[];
  readonly forwardZones?: Readonly<Record<string, readonly Upstream[]>>;
  /** Default: the host's resolv.conf (read by each worker). */
  readonly upstreams?: readonly Upstream[];
  readonly timeoutMs?: number;
  /** Forwarding allow-list CIDRs (default DEFAULT_FORWARD_ALLOW). */
  readonly allow?: readonly string[];
  /** Forward cache size per worker; 0 disables (default 10,000). */
  readonly cacheEntries?: number;
}

export interface DcosDnsClusterOptions {
  readonly workers: number;
  readonly listen: readonly ListenAddress[];
  readonly router?: ClusterRouterOptions;
  readonly loadBalance?: LoadBalance;
  readonly maxConcurrent?: number;
  readonly tcpIdleMs?: number;
  readonly tcpMessageMs?: number;
  /** Per worker: a client's queries spread over the workers get up to `workers` × qps. */
  readonly clientRateLimit?: Omit<ClientRateLimitOptions, 'now'>;
  readonly maxUdpPayload?: number;
  readonly registry?: Registry;
  readonly metrics?: DnsMetrics;
  readonly startTimeoutMs?: number;
}

/** Zone data as arrays (what crosses the IPC channel). */
export interface WireZoneData {
  readonly a: [string, string[]][];
  readonly aaaa: [string, string[]][];
  readonly srv: [string, string[]][];
  readonly cname: [string, string][];
}

export type ToWorker =
  | { op: 'setZone'; origin: string; data: WireZoneData }
  | { op: 'deleteZone'; origin: string }
  | { op: 'setMesosResolvers'; list: Upstream[] }
  /** After the current zones: bind the listeners. */
  | { op: 'start' };

export type FromWorker =
  /** The worker listens for messages: send it the zones, then 'start'. */
  | { op: 'hello' }
  | { op: 'ready'; ports: number[] }
  | { op: 'failed'; error: string }
  | { op: 'metrics'; delta: MetricsDelta };

/** What a worker is started with (environment variable DCNET_DNS_WORKER, JSON). */
export interface WorkerInit {
  readonly listen: ListenAddress[];
  readonly router: ClusterRouterOptions;
  readonly loadBalance?: LoadBalance;
  readonly maxConcurrent?: number;
  readonly tcpIdleMs?: number;
  readonly tcpMessageMs?: number;
  readonly clientRateLimit?: Omit<ClientRateLimitOptions, 'now'>;
  readonly maxUdpPayload?: number;
}

const toWire = (data: ZoneData): WireZoneData => ({
  a: [...(data.a ?? [])].map(([n, v]) => [n, [...v]]),
  aaaa: [...(data.aaaa ?? [])].map(([n, v]) => [n, [...v]]),
  srv: [...(data.srv ?? [])].map(([n, v]) => [n, [...v]]),
  cname: [...(data.cname ?? [])],
});

export const fromWire = (w: WireZoneData): ZoneData => ({
  a: new Map(w.a),
  aaaa: new Map(w.aaaa),
  srv: new Map(w.srv),
  cname: new Map(w.cname),
});

const WORKER_MODULE = fileURLToPath(new URL('./cluster-worker.js', import.meta.url));

export class DcosDnsCluster {
  readonly metrics: DnsMetrics;
  private readonly zones = new Map<string, WireZoneData>();
  /** Local copy used to validate changes before they are sent. */
  private readonly check = new ZoneResponder();
  private mesosResolvers: Upstream[];
  private readonly workers = new Set<Worker>();
  private closing = false;
  private ports: number[] = [];
  private init!: WorkerInit;

  constructor(private readonly opts: DcosDnsClusterOptions) {
    if (!cluster.isPrimary) throw new Error('DcosDnsCluster must be started from a primary process');
    if (!Number.isInteger(opts.workers) || opts.workers < 1) {
      throw new Error(`workers: must be a positive integer (got ${opts.workers})`);
    }
    this.metrics = opts.metrics ?? dnsMetrics(opts.registry);
    this.mesosResolvers = [...(opts.router?.mesosResolvers ?? [])];
  }

  /** Bound ports in the order of `listen`. */
  get boundPorts(): number[] {
    return [...this.ports];
  }

  get workerPids(): number[] {
    return [...this.workers].map((w) => w.process.pid!).filter(Boolean);
  }

  async start(): Promise<void> {
    // Resolve port 0 here so that every worker binds the same, concrete ports.
    const probe = new DnsServer({ listen: this.opts.listen, zones: {}, metrics: this.metrics });
    await probe.start();
    const listen = probe.addresses();
    await probe.close();
    this.ports = listen.map((l) => l.port);
    this.init = {
      listen,
      router: { ...(this.opts.router ?? {}), mesosResolvers: this.mesosResolvers },
      ...(this.opts.loadBalance ? { loadBalance: this.opts.loadBalance } : {}),
      ...(this.opts.maxConcurrent ? { maxConcurrent: this.opts.maxConcurrent } : {}),
      ...(this.opts.tcpIdleMs ? { tcpIdleMs: this.opts.tcpIdleMs } : {}),
      ...(this.opts.tcpMessageMs ? { tcpMessageMs: this.opts.tcpMessageMs } : {}),
      ...(this.opts.clientRateLimit ? { clientRateLimit: this.opts.clientRateLimit } : {}),
      ...(this.opts.maxUdpPayload ? { maxUdpPayload: this.opts.maxUdpPayload } : {}),
    };
    try {
      await Promise.all(Array.from({ length: this.opts.workers }, () => this.fork()));
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  private fork(): Promise<void> {
    cluster.setupPrimary({ exec: WORKER_MODULE, args: [], silent: false });
    const w = cluster.fork({ DCNET_DNS_WORKER: JSON.stringify(this.init) });
    this.workers.add(w);
    let ready = false;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('dns worker did not start in time')),
        this.opts.startTimeoutMs ?? 15_000,
      );
      w.on('message', (m: FromWorker) => {
        if (m.op === 'hello') {
          // IPC is ordered: the worker has every zone before it binds and answers.
          for (const [origin, data] of this.zones) w.send({ op: 'setZone', origin, data } satisfies ToWorker);
          w.send({ op: 'start' } satisfies ToWorker);
        } else if (m.op === 'ready') {
          ready = true;
          clearTimeout(timer);
          resolve();
        } else if (m.op === 'failed') {
          clearTimeout(timer);
          reject(new Error(`dns worker failed: ${m.error}`));
        } else if (m.op === 'metrics') this.metrics.absorb(m.delta);
      });
      w.on('exit', () => {
        this.workers.delete(w);
        clearTimeout(timer);
        // Replace a worker that died after it had started (one that cannot start would loop).
        if (!this.closing && ready) void this.fork().catch(() => undefined);
        else reject(new Error('dns worker exited before it was ready'));
      });
    });
  }

  private broadcast(m: ToWorker): void {
    for (const w of this.workers) if (w.isConnected()) w.send(m);
  }

  /** Replaces one zone in every worker (throws, changing nothing, on bad data). */
  setZone(origin: string, data: ZoneData): void {
    const wire = toWire(data);
    this.check.setZone(origin, fromWire(wire));
    this.zones.set(origin, wire);
    this.broadcast({ op: 'setZone', origin, data: wire });
  }

  deleteZone(origin: string): boolean {
    const had = this.check.deleteZone(origin);
    this.zones.delete(origin);
    this.broadcast({ op: 'deleteZone', origin });
    return had;
  }

  setMesosResolvers(list: readonly Upstream[]): void {
    this.mesosResolvers = [...list];
    this.init = { ...this.init, router: { ...this.init.router, mesosResolvers: this.mesosResolvers } };
    this.broadcast({ op: 'setMesosResolvers', list: this.mesosResolvers });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      [...this.workers].map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.kill('SIGTERM');
          }),
      ),
    );
  }
}

/** Starts `workers` server processes sharing the listeners; see DcosDnsCluster. */
export async function startDcosDnsCluster(opts: DcosDnsClusterOptions): Promise<DcosDnsCluster> {
  const c = new DcosDnsCluster(opts);
  await c.start();
  return c;
}
