// Brings one node's kernel to its VIP data plane: a full load in one atomic `nft -f` at start and
// whenever the kernel is in doubt, only the changed elements on table updates, and a read-back on
// the resync timer that reloads the table when it drifted. Backends that go away get their
// conntrack entries flushed, so that their clients fail fast instead of hanging. Routes give the
// node's own processes a way to the VIP ranges (there is no dummy device on these kernels).
import type { Logger } from 'pino';
import { ipBatch, nftApply, run, runJson, type RunOptions } from '../kernel/index.js';
import {
  L4LB_TABLE,
  NAMED_RANGE4,
  NAMED_RANGE6,
  NodePlane,
  goneElement,
  renderTable,
  type Departed,
  type NodeDataplane,
} from './render.js';
import type { VipTable } from './types.js';

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

type NftDoc = { nftables: Record<string, unknown>[] };
type NftElem = unknown;

const concat = (x: NftElem): string => {
  if (x && typeof x === 'object' && 'concat' in x) return (x.concat as unknown[]).map(String).join(' . ');
  return String(x);
};
const verdictOf = (x: NftElem): string => {
  if (x && typeof x === 'object') {
    const v = x as { goto?: { target: string }; jump?: { target: string } };
    return v.goto?.target ?? v.jump?.target ?? JSON.stringify(x);
  }
  return String(x);
};

/** What the kernel holds, in the same element-text form as NodeDataplane. */
export interface KernelL4lb {
  readonly maps: Map<string, Map<string, string>>;
  readonly sets: Map<string, Set<string>>;
  readonly rules: Map<string, number>;
}

export function parseKernelTable(doc: NftDoc): KernelL4lb {
  const maps = new Map<string, Map<string, string>>();
  const sets = new Map<string, Set<string>>();
  const rules = new Map<string, number>();
  for (const item of doc.nftables) {
    if ('map' in item) {
      const m = item.map as { name: string; map: string; elem?: [NftElem, NftElem][] };
      const verdict = m.map === 'verdict';
      maps.set(
        m.name,
        new Map((m.elem ?? []).map(([k, v]) => [concat(k), verdict ? verdictOf(v) : concat(v)])),
      );
    } else if ('set' in item) {
      const s = item.set as { name: string; elem?: NftElem[] };
      sets.set(s.name, new Set((s.elem ?? []).map(concat)));
    } else if ('chain' in item) {
      const c = item.chain as { name: string };
      if (!rules.has(c.name)) rules.set(c.name, 0);
    } else if ('rule' in item) {
      const r = item.rule as { chain: string };
      rules.set(r.chain, (rules.get(r.chain) ?? 0) + 1);
    }
  }
  return { maps, sets, rules };
}

const sameMap = (a: Map<string, string> | undefined, b: Map<string, string>): boolean =>
  a !== undefined && a.size === b.size && [...b].every(([k, v]) => a.get(k) === v);
const sameSet = (a: Set<string> | undefined, b: Set<string>): boolean =>
  a !== undefined && a.size === b.size && [...b].every((k) => a.has(k));

/** Differences between the kernel and the desired data plane, named (empty = in sync). */
export function driftOf(kernel: KernelL4lb, want: NodeDataplane, opts: { gone?: boolean } = {}): string[] {
  const g = (opts.gone ?? true) ? 1 : 0;
  const out: string[] = [];
  const maps: [string, Map<string, string>][] = [
    ['vips4', want.vips4],
    ['vips6', want.vips6],
    ['be4', want.slots4],
    ['be6', want.slots6],
  ];
  for (const [name, m] of maps) if (!sameMap(kernel.maps.get(name), m)) out.push(`map ${name}`);
  const sets: [string, Set<string>][] = [
    ['hairpin4', want.hairpin4],
    ['hairpin6', want.hairpin6],
    ['ipvips4', want.ipvips4],
    ['ipvips6', want.ipvips6],
  ];
  for (const [name, s] of sets) if (!sameSet(kernel.sets.get(name), s)) out.push(`set ${name}`);
  const chains = new Map<string, number>([
    ['prerouting', 2],
    ['output', 2],
    ['postrouting', 2],
    ['unserved', 4],
    ['gone', 4],
    ['filter-forward', 1 + g],
    ['filter-output', 1 + g],
    ['filter-input', g],
    ...[...want.chains.keys()].map((c): [string, number] => [c, 1]),
  ]);
  for (const [name, n] of chains) if (kernel.rules.get(name) !== n) out.push(`chain ${name}`);
  for (const name of kernel.rules.keys()) if (!chains.has(name)) out.push(`extra chain ${name}`);
  return out;
}

interface RouteDev {
  dev: string;
  src: string;
}

export class L4lbReconciler {
  private running: Promise<void> | undefined;
  private pending: VipTable | undefined;
  private pendingVerify = false;
  private plane: NodePlane | undefined;
  private synced: VipTable | undefined;
  /** The last route sync found no address for a family (it may come up later: the overlay
   *  configures its bridges and VTEP in parallel); looked for again while that family has VIPs. */
  private missing = { v4: false, v6: false };
  private retryTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private conntrack: boolean | undefined;
  /** Elements put into the gone sets (only with nft flushing); a full load empties them. */
  private readonly gone = new Set<string>();

  constructor(private readonly o: L4lbReconcilerOptions) {}

  get error(): string | undefined {
    return this.lastError;
  }

  /** The data plane last programmed (undefined until the first load). */
  get programmed(): NodeDataplane | undefined {
    return this.plane?.current;
  }

  /** The table as last programmed into the kernel (a DNS server answers from this one, so that a
   *  name never resolves to a VIP this node does not serve yet: dcos-net's DCOS_OSS-4939 fix). */
  get programmedTable(): VipTable | undefined {
    return this.synced;
  }

  /** Programs `table`; `verify` reads the kernel back first and reloads on drift. Resolves when a
   *  run that includes this request is over. Runs never overlap; requests during a run coalesce. */
  request(table: VipTable, verify = false): Promise<void> {
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

  private async sync(table: VipTable, verify: boolean): Promise<Omit<SyncResult, 'ms' | 'vips'>> {
    let plane = this.plane;
    if (!plane) {
      plane = new NodePlane(this.o.selfIp);
      plane.update(table);
      await this.prepareNode();
      await nftApply(renderTable(plane.current, { gone: await this.flushesWithNft() }), this.o.kernel);
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
      await nftApply(renderTable(plane.current, { gone: await this.flushesWithNft() }), this.o.kernel);
      this.gone.clear();
      kind = 'full';
    } else if (change.script) {
      // A backend that comes back leaves the gone set in the transaction that offers it again.
      const back = viaNft ? change.arrived.map(goneElement).filter((e) => this.gone.has(e)) : [];
      const fam = (e: string): string => (e.includes(':') ? 'gone6' : 'gone4');
      const unGone = back.flatMap((e) => [
        `add element inet ${L4LB_TABLE} ${fam(e)} { ${e} }`,
        `delete element inet ${L4LB_TABLE} ${fam(e)} { ${e} }`,
      ]);
      await nftApply(`${unGone.join('\n')}${unGone.length ? '\n' : ''}${change.script}`, this.o.kernel);
      for (const e of back) this.gone.delete(e);
      kind = 'incremental';
    }
    if (verify) {
      const drift = await this.readDrift(plane.current);
      if (drift.length > 0) {
        this.o.log.warn({ drift }, 'VIP data plane drifted from the table; reloading it');
        await nftApply(renderTable(plane.current, { gone: await this.flushesWithNft() }), this.o.kernel);
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
    for (const key of ['net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables']) {
      // Through the tool, so that it lands in the node's namespace (absent without br_netfilter).
      await run('sysctl', ['-q', '-w', `${key}=1`], this.o.kernel).catch(() => {});
    }
  }

  /** How the kernel differs from `want` (named; empty = in sync). */
  private async readDrift(want: NodeDataplane): Promise<string[]> {
    let doc: NftDoc;
    try {
      doc = await runJson<NftDoc>('nft', ['-j', 'list', 'table', 'inet', L4LB_TABLE], {
        ...this.o.kernel,
        timeoutMs: 60_000,
      });
    } catch (err) {
      if (/No such file or directory|does not exist/.test((err as Error).message)) return ['table missing'];
      throw err;
    }
    return driftOf(parseKernelTable(doc), want, { gone: await this.flushesWithNft() });
  }

  private async routeDevs(): Promise<{ v4?: RouteDev; v6?: RouteDev }> {
    type Addr = {
      ifname: string;
      addr_info: { family: string; local: string; scope: string; tentative?: boolean; dadfailed?: boolean }[];
    };
    const links = await runJson<Addr[]>('ip', ['-j', 'addr', 'show'], this.o.kernel);
    const v4 = links.find((l) => l.addr_info.some((a) => a.family === 'inet' && a.local === this.o.selfIp));
    // An IPv6 address still under duplicate address detection cannot be a route's source yet.
    const usable6 = (a: Addr['addr_info'][number]): boolean =>
      a.family === 'inet6' && a.scope === 'global' && !a.tentative && !a.dadfailed;
    const withV6 = links
      .filter((l) => l.ifname !== 'lo')
      .map((l) => ({ l, a: l.addr_info.find(usable6) }))
      .filter((x) => x.a !== undefined)
      .sort((x, y) => (x.l === v4 ? -1 : y.l === v4 ? 1 : x.l.ifname < y.l.ifname ? -1 : 1))[0];
    return {
      ...(v4 && { v4: { dev: v4.ifname, src: this.o.selfIp } }),
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
    const desired: string[] = [];
    if (v4)
      for (const dst of [NAMED_RANGE4, ...[...want.routes4].map((ip) => `${ip}/32`)])
        desired.push(`route replace ${dst} dev ${v4.dev} src ${v4.src} proto ${L4LB_ROUTE_PROTO}`);
    if (v6)
      for (const dst of [NAMED_RANGE6, ...[...want.routes6].map((ip) => `${ip}/128`)])
        desired.push(`route replace ${dst} dev ${v6.dev} src ${v6.src} proto ${L4LB_ROUTE_PROTO}`);
    const dsts = new Set(desired.map((l) => l.split(' ')[2]!.replace(/\/(32|128)$/, '')));
    const have = await Promise.all(
      ['-4', '-6'].map((f) =>
        runJson<{ dst: string }[]>(
          'ip',
          ['-j', f, 'route', 'show', 'proto', String(L4LB_ROUTE_PROTO)],
          this.o.kernel,
        ),
      ),
    );
    const stale = [
      ...have[0]!.filter((r) => !dsts.has(r.dst)).map((r) => `route del ${r.dst} proto ${L4LB_ROUTE_PROTO}`),
      ...have[1]!.filter((r) => !dsts.has(r.dst)).map((r) => `route del ${r.dst} proto ${L4LB_ROUTE_PROTO}`),
    ];
    await ipBatch([...stale, ...desired], this.o.kernel);
  }

  private async hasConntrack(): Promise<boolean> {
    if (this.conntrack === undefined) {
      try {
        await run('conntrack', ['--version'], this.o.kernel);
        this.conntrack = true;
      } catch {
        this.conntrack = false;
        this.o.log.warn(
          'the conntrack tool is not installed: flows to departed backends are reset by nftables instead of deleted',
        );
      }
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
    const lines = departed.map((d) => `add element inet ${L4LB_TABLE} gone${d.family} { ${goneElement(d)} }`);
    await nftApply(`${lines.join('\n')}\n`, this.o.kernel);
    for (const d of departed) this.gone.add(goneElement(d));
    return departed.length;
  }

  /** Deletes conntrack entries of VIP connections whose backend left the VIP. */
  private async flushDeparted(departed: readonly Departed[]): Promise<number> {
    if (departed.length === 0 || !(await this.hasConntrack())) return 0;
    const jobs = departed.map((d) => {
      const [ip, port] = d.target.split(' . ');
      return [
        '-D',
        '-f',
        d.family === 4 ? 'ipv4' : 'ipv6',
        '-p',
        d.protocol,
        '--orig-dst',
        d.ip,
        '--orig-port-dst',
        String(d.port),
        '--reply-src',
        ip!,
        '--reply-port-src',
        port!,
      ];
    });
    // Exit 1 means "nothing matched": not an error.
    for (let i = 0; i < jobs.length; i += 8)
      await Promise.all(
        jobs.slice(i, i + 8).map((args) => run('conntrack', args, this.o.kernel).catch(() => {})),
      );
    return jobs.length;
  }
}
