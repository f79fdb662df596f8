// One node's nftables data plane for the VIP table, and its text (specs/test-machine.md §4): a
// verdict map from VIP (address . protocol . port) to a chain per slot count, and one map from
// (VIP . slot) to backend address . port. No chain per VIP or per backend, so a full load grows
// linearly (10k VIPs load in about a second) and a backend change is a few element updates.
// Slots are filled in proportion to weight (smooth weighted round robin); a VIP's slot is
// `numgen random mod M`, or `jhash ip saddr mod M` with client-IP affinity (fixed seed: every
// node maps a client to the same backend).
//
// It lives in kernel/ because it renders nft text: the VIP table comes in as typed values
// (addresses, ports, a protocol enum), each field is re-checked where it becomes element text
// (`contribution`), and only this folder turns the result into `nft -f` input.
import {
  ipFamily,
  isIpAddr,
  isPort,
  type Family,
  type IpAddr,
  type Ipv4,
  type Port,
  type Branded,
} from '../net/index.js';
import { KernelInputError, need, needInt, needOneOf, runJson, type RunOptions } from './exec.js';
import { nftApply } from './nft.js';

export type L4Protocol = 'tcp' | 'udp';
export const L4_PROTOCOLS: readonly L4Protocol[] = ['tcp', 'udp'];

/** What the data plane needs of a backend (the L4LB's parsed VIP table fits this shape). */
export interface L4lbBackend {
  readonly ip: IpAddr;
  readonly port: Port;
  /** 1–100: share of new connections relative to the VIP's other backends. */
  readonly weight: number;
  /** The agent running the task (its underlay IP). */
  readonly agent: IpAddr;
  /** Bridge port mapping: on `agent` itself the container is reached directly. */
  readonly local?: { readonly ip: IpAddr; readonly port: Port };
}

export interface L4lbVip {
  readonly protocol: L4Protocol;
  readonly ip: IpAddr;
  readonly port: Port;
  readonly family: Family;
  readonly affinity?: boolean;
  readonly backends: readonly L4lbBackend[];
}

export interface L4lbTable {
  readonly vips: readonly L4lbVip[];
}

/** nft input that this module rendered (a caller cannot make one). */
export type NftScript = Branded<string, 'NftScript'>;

export const L4LB_TABLE = 'dcnet_l4lb';
export const AFFINITY_SEED = '0x64636e74';
/** Slot tables larger than this fall back to one slot per backend (weights ignored). */
export const MAX_SLOTS = 128;
/** Slot-count chains that always exist. nft 1.0.6 cannot add a rule that looks up a concatenated
 *  `typeof` map it did not create in the same run ("conflicting protocols specified: ip vs. th"),
 *  so chains are only ever made by a full load: the common ones up front, rarer ones (more
 *  slots) by a full reload when a VIP first needs them. */
export const PRESET_SLOTS = 32;
/** The named ranges every node routes and rejects when unserved. */
export const NAMED_RANGE4 = '11.0.0.0/8';
export const NAMED_RANGE6 = 'fd01:c::/64';
/** How long a departed backend's flows are reset when conntrack cannot flush them. */
export const GONE_TIMEOUT = '1h';

/** `VIP . proto . backend ip . backend port`: an element of the gone sets. */
export function goneElement(d: Departed): string {
  const c = 'nft dcnet_l4lb gone';
  return (
    `${need(isIpAddr, d.ip, c, 'ip')} . ${needOneOf(d.protocol, L4_PROTOCOLS, c, 'protocol')} . ` +
    `${need(isIpAddr, d.backendIp, c, 'backendIp')} . ${need(isPort, d.backendPort, c, 'backendPort')}`
  );
}

/** What one node programs; keys are nft element texts, so that diffs and read-backs compare strings. */
export interface NodeDataplane {
  /** `11.0.0.37 . tcp . 80` → chain. Only VIPs with backends. */
  readonly vips4: Map<string, string>;
  readonly vips6: Map<string, string>;
  /** `11.0.0.37 . tcp . 80 . 2` → `9.0.1.2 . 80`. */
  readonly slots4: Map<string, string>;
  readonly slots6: Map<string, string>;
  /** `a . a` for backends on this node reached by themselves through a VIP (masqueraded). */
  readonly hairpin4: Set<string>;
  readonly hairpin6: Set<string>;
  /** IP VIPs (`ip . proto . port`) rejected when they have no backend. */
  readonly ipvips4: Set<string>;
  readonly ipvips6: Set<string>;
  /** Chains by name → slot count and affinity. */
  readonly chains: Map<string, { family: Family; slots: number; affinity: boolean }>;
  /** Addresses that need a route on this node for its own traffic (IP VIPs outside the ranges). */
  readonly routes4: Set<string>;
  readonly routes6: Set<string>;
  /** For conntrack: VIP key → its distinct targets. */
  readonly targets: Map<
    string,
    { family: Family; protocol: string; ip: string; port: number; targets: Set<string> }
  >;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Slot list for weighted targets: smooth weighted round robin over the reduced weights. */
export function fillSlots(targets: readonly { target: string; weight: number }[]): string[] {
  if (targets.length === 0) return [];
  if (targets.every((t) => t.weight === targets[0]!.weight)) return targets.map((t) => t.target);
  let weights = targets.map((t) => t.weight);
  const g = weights.reduce(gcd);
  weights = weights.map((w) => w / g);
  let total = weights.reduce((s, w) => s + w, 0);
  if (total > MAX_SLOTS) {
    weights = weights.map(() => 1);
    total = weights.length;
  }
  const current = weights.map(() => 0);
  const out: string[] = [];
  for (let n = 0; n < total; n++) {
    let best = 0;
    for (let i = 0; i < weights.length; i++) {
      current[i]! += weights[i]!;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    out.push(targets[best]!.target);
  }
  return out;
}

const inNamedRange4 = (ip: string): boolean => ip.startsWith('11.');
const inNamedRange6 = (ip: string): boolean => /^fd01:c:(:|0:0:0:)/i.test(ip);

export const chainName = (family: Family, slots: number, affinity: boolean): string =>
  `g${family}-${slots}${affinity ? '-a' : ''}`;

/** An empty data plane: no VIPs, the preset chains. */
export function emptyDataplane(): NodeDataplane {
  return {
    vips4: new Map(),
    vips6: new Map(),
    slots4: new Map(),
    slots6: new Map(),
    hairpin4: new Set(),
    hairpin6: new Set(),
    ipvips4: new Set(),
    ipvips6: new Set(),
    chains: new Map(
      [4, 6].flatMap((family) =>
        [false, true].flatMap((affinity) =>
          Array.from({ length: PRESET_SLOTS }, (_, i) => [
            chainName(family as Family, i + 1, affinity),
            { family: family as Family, slots: i + 1, affinity },
          ]),
        ),
      ) as [string, { family: Family; slots: number; affinity: boolean }][],
    ),
    routes4: new Set(),
    routes6: new Set(),
    targets: new Map(),
  };
}

/** What one VIP adds to a node's data plane. */
export interface Contribution {
  readonly key: string;
  readonly family: Family;
  /** `ip . proto . port` (the dispatch and IP-VIP element key). */
  readonly element: string;
  readonly chain?: { name: string; slots: number; affinity: boolean };
  readonly slots: readonly string[];
  readonly hairpin: readonly string[];
  readonly ipVip: boolean;
  readonly targets: Set<string>;
}

/** Re-checks one VIP's fields before they become element text: a value that is not what its type
 *  says (smuggled through a cast) is refused here, whatever the caller parsed. */
function checkVip(v: L4lbVip): void {
  const c = 'nft dcnet_l4lb';
  needOneOf(v.protocol, L4_PROTOCOLS, c, 'protocol');
  need(isIpAddr, v.ip, c, 'ip');
  needOneOf(v.family, [4, 6] as unknown as readonly string[], c, 'family');
  if (ipFamily(v.ip) !== v.family) throw new KernelInputError(c, 'family', v.family);
  need(isPort, v.port, c, 'port');
  for (const b of v.backends) {
    need(isIpAddr, b.ip, c, 'backends.ip');
    need(isPort, b.port, c, 'backends.port');
    needInt(b.weight, 1, 100, c, 'backends.weight');
    need(isIpAddr, b.agent, c, 'backends.agent');
    if (ipFamily(b.ip) !== v.family) throw new KernelInputError(c, 'backends.ip', b.ip);
    if (b.local !== undefined) {
      need(isIpAddr, b.local.ip, c, 'backends.local.ip');
      need(isPort, b.local.port, c, 'backends.local.port');
      if (ipFamily(b.local.ip) !== v.family) throw new KernelInputError(c, 'backends.local.ip', b.local.ip);
    }
  }
}

export function contribution(v: L4lbVip, selfIp: Ipv4): Contribution {
  checkVip(v);
  const element = `${v.ip} . ${v.protocol} . ${v.port}`;
  const hairpin: string[] = [];
  const targets = v.backends.map((b) => {
    const local = b.agent === selfIp && b.local !== undefined;
    const ip = local ? b.local!.ip : b.ip;
    const port = local ? b.local!.port : b.port;
    if (b.agent === selfIp && ip !== selfIp) hairpin.push(`${ip} . ${ip}`);
    return { target: `${ip} . ${port}`, weight: b.weight };
  });
  const slots = fillSlots(targets);
  const affinity = v.affinity === true;
  return {
    key: `${v.protocol}/${v.ip}/${v.port}`,
    family: v.family,
    element,
    ...(slots.length > 0 && {
      chain: { name: chainName(v.family, slots.length, affinity), slots: slots.length, affinity },
    }),
    slots,
    hairpin,
    ipVip: v.family === 4 ? !inNamedRange4(v.ip) : !inNamedRange6(v.ip),
    targets: new Set(targets.map((t) => t.target)),
  };
}

export function nodeDataplane(table: L4lbTable, selfIp: Ipv4): NodeDataplane {
  const plane = new NodePlane(selfIp);
  plane.update(table);
  return plane.current;
}

/** A departed (or arrived) backend of a VIP: its connections are flushed. */
export interface Departed {
  readonly family: Family;
  readonly protocol: L4Protocol;
  readonly ip: IpAddr;
  readonly port: Port;
  readonly backendIp: IpAddr;
  readonly backendPort: Port;
}

/** A departed backend from the element texts this module made (`ip . port` targets). */
function departedOf(c: Contribution, target: string): Departed {
  const [backendIp, backendPort] = target.split(' . ');
  return {
    family: c.family,
    protocol: c.key.slice(0, 3) as L4Protocol,
    ip: vipIpOf(c.element) as IpAddr,
    port: Number(c.key.slice(c.key.lastIndexOf('/') + 1)) as Port,
    backendIp: backendIp as IpAddr,
    backendPort: Number(backendPort) as Port,
  };
}

export interface PlaneChange {
  /** The increment as one nft transaction ('' when nothing changed). */
  readonly script: NftScript;
  /** A VIP needs a chain the kernel lacks: only a full load can make it (see PRESET_SLOTS). */
  readonly needsChain: boolean;
  readonly routesChanged: boolean;
  readonly departed: readonly Departed[];
  /** Targets new to their VIP (a departed one coming back must leave the `gone` sets). */
  readonly arrived: readonly Departed[];
  readonly changedVips: number;
}

const vipIpOf = (element: string): string => element.slice(0, element.indexOf(' '));

interface PlaneEntry {
  readonly vip: L4lbVip;
  readonly c: Contribution;
  gen: number;
}

/** One node's data plane kept up to date VIP by VIP: a new table costs a scan for changed VIP
 *  objects (unchanged ones are the same objects) plus work for the changed ones only, and yields
 *  the element-level increment directly. Shared elements (hairpin pairs, routes) are counted. */
export class NodePlane {
  readonly current: NodeDataplane = emptyDataplane();
  private readonly byKey = new Map<string, PlaneEntry>();
  /** Entries by VIP object: an unchanged VIP is recognised without building its key. */
  private readonly known = new Map<L4lbVip, PlaneEntry>();
  private readonly refs = new Map<string, number>();
  private gen = 0;
  private loaded = false;

  constructor(private readonly selfIp: Ipv4) {}

  private ref(set: Set<string>, tag: string, item: string, delta: number): void {
    const k = `${tag} ${item}`;
    const n = (this.refs.get(k) ?? 0) + delta;
    if (n > 0) {
      this.refs.set(k, n);
      set.add(item);
    } else {
      this.refs.delete(k);
      set.delete(item);
    }
  }

  private apply(c: Contribution, sign: 1 | -1): void {
    const d = this.current;
    const v4 = c.family === 4;
    const slots = v4 ? d.slots4 : d.slots6;
    for (const h of c.hairpin) this.ref(v4 ? d.hairpin4 : d.hairpin6, `h${c.family}`, h, sign);
    if (c.ipVip) {
      this.ref(v4 ? d.routes4 : d.routes6, `r${c.family}`, vipIpOf(c.element), sign);
      if (sign > 0) (v4 ? d.ipvips4 : d.ipvips6).add(c.element);
      else (v4 ? d.ipvips4 : d.ipvips6).delete(c.element);
    }
    if (sign > 0) {
      const [ip, protocol, port] = [
        vipIpOf(c.element),
        c.key.slice(0, 3),
        Number(c.key.slice(c.key.lastIndexOf('/') + 1)),
      ];
      d.targets.set(c.key, { family: c.family, protocol, ip, port, targets: c.targets });
      if (c.chain) {
        d.chains.set(c.chain.name, { family: c.family, slots: c.chain.slots, affinity: c.chain.affinity });
        (v4 ? d.vips4 : d.vips6).set(c.element, c.chain.name);
      }
      c.slots.forEach((t, i) => slots.set(`${c.element} . ${i}`, t));
    } else {
      d.targets.delete(c.key);
      (v4 ? d.vips4 : d.vips6).delete(c.element);
      for (let i = 0; i < c.slots.length; i++) slots.delete(`${c.element} . ${i}`);
    }
  }

  update(table: L4lbTable): PlaneChange {
    const d = this.current;
    const gen = ++this.gen;
    if (!this.loaded) {
      // First load: no increment to compute (the caller loads the whole table).
      this.loaded = true;
      for (const v of table.vips) {
        const c = contribution(v, this.selfIp);
        const old = this.byKey.get(c.key);
        if (old) this.apply(old.c, -1); // a duplicate key in the table: the last one wins
        this.apply(c, 1);
        const e: PlaneEntry = { vip: v, c, gen };
        this.byKey.set(c.key, e);
        this.known.set(v, e);
      }
      return {
        script: '' as NftScript,
        needsChain: false,
        routesChanged: true,
        departed: [],
        arrived: [],
        changedVips: table.vips.length,
      };
    }
    const changes: { old?: Contribution; now?: Contribution; vip?: L4lbVip }[] = [];
    for (const v of table.vips) {
      const same = this.known.get(v);
      if (same) {
        same.gen = gen;
        continue;
      }
      const now = contribution(v, this.selfIp);
      const had = this.byKey.get(now.key);
      if (had) had.gen = gen;
      changes.push({ ...(had && { old: had.c }), now, vip: v });
    }
    for (const e of this.byKey.values()) if (e.gen !== gen) changes.push({ old: e.c });
    // Element values before, on the keys the change touches.
    type Coll = Map<string, string> | Set<string>;
    const touched = new Map<Coll, { name: string; keys: Set<string>; verdict?: boolean }>();
    const touch = (coll: Coll, name: string, key: string, verdict?: boolean): void => {
      let t = touched.get(coll);
      if (!t) touched.set(coll, (t = { name, keys: new Set(), ...(verdict && { verdict }) }));
      t.keys.add(key);
    };
    const touchAll = (c: Contribution): void => {
      const v4 = c.family === 4;
      touch(v4 ? d.vips4 : d.vips6, v4 ? 'vips4' : 'vips6', c.element, true);
      c.slots.forEach((_, i) => touch(v4 ? d.slots4 : d.slots6, v4 ? 'be4' : 'be6', `${c.element} . ${i}`));
      for (const h of c.hairpin) touch(v4 ? d.hairpin4 : d.hairpin6, v4 ? 'hairpin4' : 'hairpin6', h);
      if (c.ipVip) touch(v4 ? d.ipvips4 : d.ipvips6, v4 ? 'ipvips4' : 'ipvips6', c.element);
    };
    for (const ch of changes) {
      if (ch.old) touchAll(ch.old);
      if (ch.now) touchAll(ch.now);
    }
    const value = (coll: Coll, k: string): string | undefined =>
      coll instanceof Map ? coll.get(k) : coll.has(k) ? '' : undefined;
    const before = new Map<Coll, Map<string, string | undefined>>();
    for (const [coll, t] of touched) before.set(coll, new Map([...t.keys].map((k) => [k, value(coll, k)])));
    const routesBefore = `${[...d.routes4].join()}|${[...d.routes6].join()}`;
    let needsChain = false;
    const departed: Departed[] = [];
    const arrived: Departed[] = [];
    for (const ch of changes) {
      if (ch.old) {
        this.apply(ch.old, -1);
        this.known.delete(this.byKey.get(ch.old.key)!.vip);
      }
      if (ch.now) {
        if (ch.now.chain && !d.chains.has(ch.now.chain.name)) needsChain = true;
        this.apply(ch.now, 1);
        const e: PlaneEntry = { vip: ch.vip!, c: ch.now, gen };
        this.byKey.set(ch.now.key, e);
        this.known.set(ch.vip!, e);
      } else this.byKey.delete(ch.old!.key);
      if (ch.old)
        for (const target of ch.old.targets)
          if (!ch.now?.targets.has(target)) departed.push(departedOf(ch.old, target));
      if (ch.now)
        for (const target of ch.now.targets)
          if (!ch.old?.targets.has(target)) arrived.push(departedOf(ch.now, target));
    }
    // The increment: removals first, so that a re-added key never meets its old value.
    const dels: string[] = [];
    const adds: string[] = [];
    for (const name of ['be4', 'be6', 'vips4', 'vips6', 'hairpin4', 'hairpin6', 'ipvips4', 'ipvips6']) {
      for (const [coll, t] of touched) {
        if (t.name !== name) continue;
        const del: string[] = [];
        const add: string[] = [];
        const was = before.get(coll)!;
        for (const k of t.keys) {
          const a = was.get(k);
          const b = value(coll, k);
          if (a === b) continue;
          if (a !== undefined) del.push(k);
          if (b !== undefined) add.push(coll instanceof Map ? `${k} : ${t.verdict ? `goto ${b}` : b}` : k);
        }
        if (del.length) dels.push(`delete element inet ${L4LB_TABLE} ${name} { ${del.join(', ')} }`);
        if (add.length) adds.push(`add element inet ${L4LB_TABLE} ${name} { ${add.join(', ')} }`);
      }
    }
    // Deleting dispatch entries before slots is not needed inside one transaction, but adding
    // slots before the dispatch that uses them reads better: adds keep the be*-first order.
    const lines = [...dels, ...adds];
    return {
      script: (lines.length ? `${lines.join('\n')}\n` : '') as NftScript,
      needsChain,
      routesChanged: routesBefore !== `${[...d.routes4].join()}|${[...d.routes6].join()}`,
      departed,
      arrived,
      changedVips: changes.length,
    };
  }
}

function chainRule(family: Family, slots: number, affinity: boolean): string {
  const ipx = family === 4 ? 'ip' : 'ip6';
  const pick = affinity
    ? `jhash ${ipx} saddr mod ${slots} seed ${AFFINITY_SEED}`
    : `numgen random mod ${slots}`;
  return `dnat ${ipx} to ${ipx} daddr . meta l4proto . th dport . ${pick} map @be${family}`;
}

function elements(lines: string[], indent: string, items: Iterable<string>): void {
  const list = [...items];
  if (list.length === 0) return;
  lines.push(`${indent}elements = {`);
  for (let i = 0; i < list.length; i++) lines.push(`${indent}  ${list[i]}${i < list.length - 1 ? ',' : ''}`);
  lines.push(`${indent}}`);
}

const mapItems = (m: Map<string, string>, verdict: boolean): string[] =>
  [...m].map(([k, v]) => `${k} : ${verdict ? `goto ${v}` : v}`);

export interface RenderOptions {
  /** Hook the gone sets in (flows of departed backends reset by nftables). Off when conntrack
   *  entries are deleted instead: DNATed packets then skip those rules altogether. */
  readonly gone?: boolean;
}

/** The whole table, replacing any previous one in the same transaction. */
export function renderTable(d: NodeDataplane, opts: RenderOptions = {}): NftScript {
  const withGone = opts.gone ?? true;
  const t = L4LB_TABLE;
  const L: string[] = [`table inet ${t} {}`, `delete table inet ${t}`, `table inet ${t} {`];
  const block = (head: string, body: string[], items?: string[]): void => {
    L.push(`  ${head} {`, ...body.map((b) => `    ${b}`));
    if (items) elements(L, '    ', items);
    L.push('  }');
  };
  block('map vips4', ['type ipv4_addr . inet_proto . inet_service : verdict'], mapItems(d.vips4, true));
  block('map vips6', ['type ipv6_addr . inet_proto . inet_service : verdict'], mapItems(d.vips6, true));
  block(
    'map be4',
    ['typeof ip daddr . meta l4proto . th dport . numgen random mod 1 : ip daddr . th dport'],
    mapItems(d.slots4, false),
  );
  block(
    'map be6',
    ['typeof ip6 daddr . meta l4proto . th dport . numgen random mod 1 : ip6 daddr . th dport'],
    mapItems(d.slots6, false),
  );
  block('set hairpin4', ['typeof ip saddr . ip daddr'], [...d.hairpin4]);
  block('set hairpin6', ['typeof ip6 saddr . ip6 daddr'], [...d.hairpin6]);
  block('set ipvips4', ['type ipv4_addr . inet_proto . inet_service'], [...d.ipvips4]);
  block('set ipvips6', ['type ipv6_addr . inet_proto . inet_service'], [...d.ipvips6]);
  // VIP . proto . departed backend: flows still pinned there are reset (when conntrack entries
  // cannot be deleted); filled by the reconciler, entries expire.
  block('set gone4', [
    'type ipv4_addr . inet_proto . ipv4_addr . inet_service',
    `flags timeout; timeout ${GONE_TIMEOUT};`,
  ]);
  block('set gone6', [
    'type ipv6_addr . inet_proto . ipv6_addr . inet_service',
    `flags timeout; timeout ${GONE_TIMEOUT};`,
  ]);
  for (const [name, c] of [...d.chains].sort(([a], [b]) => (a < b ? -1 : 1)))
    block(`chain ${name}`, [chainRule(c.family, c.slots, c.affinity)]);
  const dispatch = [
    'ip daddr . meta l4proto . th dport vmap @vips4',
    'ip6 daddr . meta l4proto . th dport vmap @vips6',
  ];
  block('chain prerouting', ['type nat hook prerouting priority dstnat; policy accept;', ...dispatch]);
  block('chain output', ['type nat hook output priority -100; policy accept;', ...dispatch]);
  block('chain postrouting', [
    'type nat hook postrouting priority srcnat; policy accept;',
    'ct status dnat ip saddr . ip daddr @hairpin4 masquerade',
    'ct status dnat ip6 saddr . ip6 daddr @hairpin6 masquerade',
  ]);
  // What is still addressed to a VIP after DNAT found no backend: refused at once, not left to time out.
  const reject = [
    `ip daddr ${NAMED_RANGE4} reject`,
    `ip6 daddr ${NAMED_RANGE6} reject`,
    'ip daddr . meta l4proto . th dport @ipvips4 reject',
    'ip6 daddr . meta l4proto . th dport @ipvips6 reject',
  ];
  const gone = [4, 6].flatMap((f) => {
    const ipx = f === 4 ? 'ip' : 'ip6';
    const key = `ct original ${ipx} daddr . meta l4proto . ${ipx} daddr . th dport @gone${f}`;
    return [`${key} meta l4proto tcp reject with tcp reset`, `${key} reject`];
  });
  // Every packet the node forwards or sends passes these hooks: two cheap tests send only new
  // connections and DNATed flows on to the rules that concern them.
  const toGone = withGone ? ['ct status dnat jump gone'] : [];
  const dispatchFilter = ['ct state new jump unserved', ...toGone];
  block('chain unserved', reject);
  block('chain gone', gone);
  block('chain filter-forward', [
    'type filter hook forward priority filter; policy accept;',
    ...dispatchFilter,
  ]);
  block('chain filter-output', [
    'type filter hook output priority filter; policy accept;',
    ...dispatchFilter,
  ]);
  block('chain filter-input', ['type filter hook input priority filter; policy accept;', ...toGone]);
  L.push('}');
  return `${L.join('\n')}\n` as NftScript;
}

function diffMap(
  L: string[],
  name: string,
  from: Map<string, string>,
  to: Map<string, string>,
  verdict: boolean,
): void {
  const del: string[] = [];
  const add: string[] = [];
  for (const [k, v] of from) if (to.get(k) !== v) del.push(k);
  for (const [k, v] of to) if (from.get(k) !== v) add.push(`${k} : ${verdict ? `goto ${v}` : v}`);
  if (del.length) L.push(`delete element inet ${L4LB_TABLE} ${name} { ${del.join(', ')} }`);
  if (add.length) L.push(`add element inet ${L4LB_TABLE} ${name} { ${add.join(', ')} }`);
}

function diffSet(L: string[], name: string, from: Set<string>, to: Set<string>): void {
  const del = [...from].filter((k) => !to.has(k));
  const add = [...to].filter((k) => !from.has(k));
  if (del.length) L.push(`delete element inet ${L4LB_TABLE} ${name} { ${del.join(', ')} }`);
  if (add.length) L.push(`add element inet ${L4LB_TABLE} ${name} { ${add.join(', ')} }`);
}

/** Only what changed, as one transaction ('' when nothing did); undefined when the change needs
 *  a chain the kernel does not have yet (then the caller loads the whole table). */
export function renderDiff(from: NodeDataplane, to: NodeDataplane): NftScript | undefined {
  for (const name of to.chains.keys()) if (!from.chains.has(name)) return undefined;
  const L: string[] = [];
  diffMap(L, 'be4', from.slots4, to.slots4, false);
  diffMap(L, 'be6', from.slots6, to.slots6, false);
  diffMap(L, 'vips4', from.vips4, to.vips4, true);
  diffMap(L, 'vips6', from.vips6, to.vips6, true);
  diffSet(L, 'hairpin4', from.hairpin4, to.hairpin4);
  diffSet(L, 'hairpin6', from.hairpin6, to.hairpin6);
  diffSet(L, 'ipvips4', from.ipvips4, to.ipvips4);
  diffSet(L, 'ipvips6', from.ipvips6, to.ipvips6);
  return (L.length ? `${L.join('\n')}\n` : '') as NftScript;
}

// ---- read-back ---------------------------------------------------------------------------------

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

// ---- kernel operations -------------------------------------------------------------------------

/** Loads the whole table (replacing the previous one in the same transaction). */
export async function loadL4lbTable(
  d: NodeDataplane,
  render: RenderOptions,
  opts?: RunOptions,
): Promise<void> {
  await nftApply(renderTable(d, render), opts);
}

/** Applies an increment from `NodePlane.update`; backends that come back (`back`) leave the gone
 *  sets in the same transaction that offers them again. */
export async function applyL4lbChange(
  change: PlaneChange,
  back: readonly Departed[],
  opts?: RunOptions,
): Promise<void> {
  const unGone = back.flatMap((d) => {
    const e = goneElement(d);
    const set = `gone${d.family === 4 ? 4 : 6}`;
    return [
      `add element inet ${L4LB_TABLE} ${set} { ${e} }`,
      `delete element inet ${L4LB_TABLE} ${set} { ${e} }`,
    ];
  });
  await nftApply(`${unGone.join('\n')}${unGone.length ? '\n' : ''}${change.script}`, opts);
}

/** Puts departed backends into the gone sets, whose rules reset their flows (without conntrack). */
export async function addL4lbGone(departed: readonly Departed[], opts?: RunOptions): Promise<void> {
  if (departed.length === 0) return;
  const lines = departed.map(
    (d) => `add element inet ${L4LB_TABLE} gone${d.family === 4 ? 4 : 6} { ${goneElement(d)} }`,
  );
  await nftApply(`${lines.join('\n')}\n`, opts);
}

/** The table as the kernel has it; undefined when there is none. */
export async function readL4lbTable(opts?: RunOptions): Promise<KernelL4lb | undefined> {
  try {
    return parseKernelTable(
      await runJson<NftDoc>('nft', ['-j', 'list', 'table', 'inet', L4LB_TABLE], {
        ...opts,
        timeoutMs: 60_000,
      }),
    );
  } catch (err) {
    if (/No such file or directory|does not exist/.test((err as Error).message)) return undefined;
    throw err;
  }
}
