// Brings one node's kernel to its VIP data plane: a full load in one atomic `nft -f` at start and
// whenever the kernel is in doubt, only the changed elements on table updates, and a read-back on
// the resync timer that reloads the table when it drifted. Backends that go away get their
// conntrack entries flushed, so that their clients fail fast instead of hanging. Routes give the
// node's own processes a way to the VIP ranges (there is no dummy device on these kernels).
import type { Logger } from 'pino';
import {
  addL4lbGone,
  applyL4lbChange,
  conntrackAvailable,
  conntrackDelete,
  driftOf,
  ensureSysctl,
  goneElement,
  ipBatch,
  loadL4lbTable,
  NAMED_RANGE4,
  NAMED_RANGE6,
  NodePlane,
  readAllAddrs,
  readL4lbTable,
  readRoutes,
  type Departed,
  type IpCommand,
  type NodeDataplane,
  type RunOptions,
} from '../kernel/index.js';
import {
  hostCidr,
  must,
  parseIpCidr,
  parseIpv4,
  type IfName,
  type IpAddr,
  type IpCidr,
  type Ipv4,
} from '../net/index.js';
import type { ParsedVipTable } from './types.js';

/** `proto` of the routes this module owns. */
export const L4LB_ROUTE_PROTO = 98;

export type SyncKind = 'full' | 'incremental' | 'repair' | 'unchanged';

export interface SyncResult {
  readonly kind: SyncKind;
  readonly ms: number;
  readonly vips: number;
  /** Conntrack entries flushed for departed backends (commands run). */
  readonly flushed: number;
}

export interface L4lbReconcilerOptions {
  /** This node's underlay IPv4 address (decides which backends are local). */
  readonly selfIp: string;
  readonly log: Logger;
  readonly kernel?: RunOptions;
  readonly onSynced?: (r: SyncResult) => void;
  /** How departed backends' flows are cut: `conntrack -D` (default when the tool exists), or
   *  `nft`: the gone sets reset their packets (without the tool, or forced for tests). */
  readonly flush?: 'auto' | 'conntrack' | 'nft';
}

interface RouteDev {
  dev: IfName;
  src: IpAddr;
}

const RANGE4 = must(parseIpCidr(NAMED_RANGE4));
const RANGE6 = must(parseIpCidr(NAMED_RANGE6));

export class L4lbReconciler {
  private running: Promise<void> | undefined;
  private pending: ParsedVipTable | undefined;
  private pendingVerify = false;
  private plane: NodePlane | undefined;
  private synced: ParsedVipTable | undefined;
  /** The last route sync found no address for a family (it may come up later: the overlay
   *  configures its bridges and VTEP in parallel); looked for again while that family has VIPs. */
  private missing = { v4: false, v6: false };
  private retryTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private conntrack: boolean | undefined;
  /** Elements put into the gone sets (only with nft flushing); a full load empties them. */
  private readonly gone = new Set<string>();

  private readonly selfIp: Ipv4;

  constructor(private readonly o: L4lbReconcilerOptions) {
    this.selfIp = must(parseIpv4(o.selfIp, 'selfIp'));
  }

  get error(): string | undefined {
    return this.lastError;
  }

  /** The data plane last programmed (undefined until the first load). */
  get programmed(): NodeDataplane | undefined {
    return this.plane?.current;
  }

  /** The table as last programmed into the kernel (a DNS server answers from this one, so that a
   *  name never resolves to a VIP this node does not serve yet: dcos-net's DCOS_OSS-4939 fix). */
  get programmedTable(): ParsedVipTable | undefined {
    return this.synced;
  }

  /** Programs `table`; `verify` reads the kernel back first and reloads on drift. Resolves when a
   *  run that includes this request is over. Runs never overlap; requests during a run coalesce. */
  request(table: ParsedVipTable, verify = false): Promise<void> {
    this.pending = table;
    this.pendingVerify ||= verify;
    if (!this.running) this.running = this.drain();
    return this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        const table = this.pending;
        const verify = this.pendingVerify;
        this.pending = undefined;
        this.pendingVerify = false;
        const started = performance.now();
        try {
          const r = await this.sync(table, verify);
          this.synced = table;
          const res: SyncResult = { ...r, ms: performance.now() - started, vips: table.vips.length };
          if (res.kind !== 'unchanged')
            this.o.log.info(
              { kind: res.kind, vips: res.vips, ms: Math.round(res.ms), flushed: res.flushed },
              'VIP data plane updated',
            );
          if (this.lastError) this.o.log.info('VIP data plane repaired after earlier failure');
          this.lastError = undefined;
          this.o.onSynced?.(res);
        } catch (err) {
          this.lastError = (err as Error).message;
          this.plane = undefined; // unknown now: the next run loads the whole table
          this.o.log.error({ err }, 'VIP data plane update failed; retrying at the next resync');
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  private async sync(table: ParsedVipTable, verify: boolean): Promise<Omit<SyncResult, 'ms' | 'vips'>> {
    let plane = this.plane;
    if (!plane) {
      plane = new NodePlane(this.selfIp);
      plane.update(table);
      await this.prepareNode();
      await loadL4lbTable(plane.current, { gone: await this.flushesWithNft() }, this.o.kernel);
      this.gone.clear();
      await this.syncRoutes(plane.current);
      this.plane = plane;
      return { kind: 'full', flushed: 0 };
    }
    // The plane is updated before the kernel: if the kernel then fails, the plane is dropped and
    // the next run loads everything.
    this.plane = undefined;
    const change = plane.update(table);
    let kind: SyncKind = 'unchanged';
    const viaNft = await this.flushesWithNft();
    if (change.needsChain) {
      await loadL4lbTable(plane.current, { gone: viaNft }, this.o.kernel);
      this.gone.clear();
      kind = 'full';
    } else if (change.script) {
      // A backend that comes back leaves the gone set in the transaction that offers it again.
      const back = viaNft ? change.arrived.filter((d) => this.gone.has(goneElement(d))) : [];
      await applyL4lbChange(change, back, this.o.kernel);
      for (const d of back) this.gone.delete(goneElement(d));
      kind = 'incremental';
    }
    if (verify) {
      const drift = await this.readDrift(plane.current);
      if (drift.length > 0) {
        this.o.log.warn({ drift }, 'VIP data plane drifted from the table; reloading it');
        await loadL4lbTable(plane.current, { gone: viaNft }, this.o.kernel);
        this.gone.clear();
        kind = 'repair';
      }
    }
    const v6Vips = plane.current.vips6.size + plane.current.ipvips6.size > 0;
    const incomplete = this.missing.v4 || (this.missing.v6 && v6Vips);
    if (verify || kind === 'full' || kind === 'repair' || change.routesChanged || incomplete)
      await this.syncRoutes(plane.current);
    this.plane = plane;
    return {
      kind,
      flushed: viaNft ? await this.goneDeparted(change.departed) : await this.flushDeparted(change.departed),
    };
  }

  private async prepareNode(): Promise<void> {
    // Same-bridge clients and backends need bridged traffic to pass the IP hooks (test-machine §4.2).
    for (const key of [
      'net.bridge.bridge-nf-call-iptables',
      'net.bridge.bridge-nf-call-ip6tables',
    ] as const) {
      // Absent without br_netfilter: then there is nothing to set.
      await ensureSysctl(key, '1', this.o.kernel).catch(() => false);
    }
  }

  /** How the kernel differs from `want` (named; empty = in sync). */
  private async readDrift(want: NodeDataplane): Promise<string[]> {
    const kernel = await readL4lbTable(this.o.kernel);
    if (!kernel) return ['table missing'];
    return driftOf(kernel, want, { gone: await this.flushesWithNft() });
  }

  private async routeDevs(): Promise<{ v4?: RouteDev; v6?: RouteDev }> {
    const links = await readAllAddrs(this.o.kernel);
    const v4 = links.find((l) => l.addrs.some((a) => a.family === 4 && a.local === this.selfIp));
    // An IPv6 address still under duplicate address detection cannot be a route's source yet.
    const withV6 = links
      .filter((l) => l.ifname !== 'lo')
      .map((l) => ({
        l,
        a: l.addrs.find((a) => a.family === 6 && a.scope === 'global' && !a.tentative && !a.dadfailed),
      }))
      .filter((x) => x.a !== undefined)
      .sort((x, y) => (x.l === v4 ? -1 : y.l === v4 ? 1 : x.l.ifname < y.l.ifname ? -1 : 1))[0];
    return {
      ...(v4 && { v4: { dev: v4.ifname, src: this.selfIp } }),
      ...(withV6 && { v6: { dev: withV6.l.ifname, src: withV6.a!.local } }),
    };
  }

  /** Routes for the node's own traffic to VIPs: the named ranges and IP VIPs outside them. A
   *  failure here is logged and retried; it does not undo the table (containers need no route). */
  private async syncRoutes(want: NodeDataplane): Promise<void> {
    try {
      await this.syncRoutesOnce(want);
    } catch (err) {
      this.missing = { v4: true, v6: true };
      this.o.log.warn({ err: (err as Error).message }, 'routes to the VIP ranges not set; retrying');
    }
    const v6Vips = want.vips6.size + want.ipvips6.size > 0;
    if ((this.missing.v4 || (this.missing.v6 && v6Vips)) && !this.retryTimer) {
      // Addresses can come up after us (the overlay configures bridges and VTEP in parallel).
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (this.synced) void this.request(this.synced);
      }, 1000);
      this.retryTimer.unref();
    }
  }

  private async syncRoutesOnce(want: NodeDataplane): Promise<void> {
    const { v4, v6 } = await this.routeDevs();
    this.missing = { v4: !v4, v6: !v6 };
    const desired: IpCommand[] = [];
    const route = (dst: IpCidr, r: RouteDev): IpCommand => ({
      op: 'route-replace',
      dst,
      dev: r.dev,
      src: r.src,
      proto: L4LB_ROUTE_PROTO,
    });
    // The plane's route addresses were checked when their VIPs entered it.
    if (v4)
      desired.push(route(RANGE4, v4), ...[...want.routes4].map((ip) => route(hostCidr(ip as IpAddr), v4)));
    if (v6)
      desired.push(route(RANGE6, v6), ...[...want.routes6].map((ip) => route(hostCidr(ip as IpAddr), v6)));
    const dsts = new Set<string>(desired.map((c) => (c.op === 'route-replace' ? c.dst : '')));
    const have = await readRoutes(L4LB_ROUTE_PROTO, this.o.kernel, 'main');
    const stale: IpCommand[] = have
      .filter((r) => !dsts.has(r.dst))
      .map((r) => ({ op: 'route-del', dst: r.dst, proto: L4LB_ROUTE_PROTO }));
    const { failures } = await ipBatch([...stale, ...desired], this.o.kernel);
    for (const f of failures)
      this.o.log.warn({ command: f.line, error: f.error }, 'VIP route refused by the kernel');
  }

  private async hasConntrack(): Promise<boolean> {
    if (this.conntrack === undefined) {
      this.conntrack = await conntrackAvailable(this.o.kernel);
      if (!this.conntrack)
        this.o.log.warn(
          'the conntrack tool is not installed: flows to departed backends are reset by nftables instead of deleted',
        );
    }
    return this.conntrack;
  }

  private async flushesWithNft(): Promise<boolean> {
    const mode = this.o.flush ?? 'auto';
    return mode === 'nft' || (mode === 'auto' && !(await this.hasConntrack()));
  }

  /** Without conntrack: departed backends go into the gone sets, whose rules reset their flows. */
  private async goneDeparted(departed: readonly Departed[]): Promise<number> {
    if (departed.length === 0) return 0;
    await addL4lbGone(departed, this.o.kernel);
    for (const d of departed) this.gone.add(goneElement(d));
    return departed.length;
  }

  /** Deletes conntrack entries of VIP connections whose backend left the VIP. */
  private async flushDeparted(departed: readonly Departed[]): Promise<number> {
    if (departed.length === 0 || !(await this.hasConntrack())) return 0;
    for (let i = 0; i < departed.length; i += 8)
      await Promise.all(
        departed.slice(i, i + 8).map((d) =>
          conntrackDelete(
            {
              protocol: d.protocol,
              origDst: d.ip,
              origDstPort: d.port,
              replySrc: d.backendIp,
              replySrcPort: d.backendPort,
            },
            this.o.kernel,
          ),
        ),
      );
    return departed.length;
  }
}
