// The difference between desired and actual kernel state as iproute2 batch lines: pure, so that
// the plan for any state is a unit test. Only what dcnet owns is ever removed: the vtep1024
// device's permanent neighbours and FDB entries, routes of protocol ROUTE_PROTO, rules to table 42.
import type { FdbEntry, LinkInfo, NeighEntry, RouteEntry, RuleEntry } from '../../kernel/index.js';
import { parseCidr, formatCidr } from '../../net/index.js';
import { OVERLAY_TABLE, ROUTE_PROTO, type DesiredDataplane, type DesiredVtep } from './types.js';

const canonical = (cidr: string): string => {
  const c = parseCidr(cidr.includes('/') ? cidr : `${cidr}/${cidr.includes(':') ? 128 : 32}`);
  return c ? formatCidr(c) : cidr;
};

/** Link and address changes. `recreate` means the device must be deleted first (its entries go). */
export function planVtep(want: DesiredVtep, link: LinkInfo | undefined, addrs: readonly string[]): string[] {
  const lines: string[] = [];
  const data = link?.linkinfo?.info_data;
  const matches =
    link !== undefined &&
    link.linkinfo?.info_kind === 'vxlan' &&
    data?.id === want.vni &&
    data.port === want.port &&
    data.local === want.local &&
    data.learning === false &&
    data.udp_csum === false;
  // No outer UDP checksum, as dcos-net creates it (udpcsum 0): the inner packets carry their own.
  const add = `link add ${want.name} type vxlan id ${want.vni} dstport ${want.port} local ${want.local} nolearning noudpcsum`;
  if (!matches) {
    if (link) lines.push(`link del ${want.name}`);
    lines.push(add, `link set ${want.name} address ${want.mac} mtu ${want.mtu} up`);
  } else {
    // Setting the MAC again would flush the static neighbours (DCOS_OSS-3855): only when it differs.
    const set: string[] = [];
    if (link.address !== want.mac) set.push(`address ${want.mac}`);
    if (link.mtu !== want.mtu) set.push(`mtu ${want.mtu}`);
    if (!link.flags.includes('UP')) set.push('up');
    if (set.length) lines.push(`link set ${want.name} ${set.join(' ')}`);
  }
  const have = new Set(matches ? addrs.map(canonical) : []);
  const wanted = new Set(want.addrs.map(canonical));
  for (const a of want.addrs) {
    if (!have.has(canonical(a)))
      lines.push(`addr replace ${a} dev ${want.name}${a.includes(':') ? ' nodad' : ''}`);
  }
  for (const a of matches ? addrs : [])
    if (!wanted.has(canonical(a))) lines.push(`addr del ${a} dev ${want.name}`);
  return lines;
}

export interface ActualEntries {
  readonly neighbours: readonly NeighEntry[];
  readonly fdb: readonly FdbEntry[];
  readonly routes: readonly RouteEntry[];
  readonly rules: readonly RuleEntry[];
}

export interface EntryPlan {
  readonly ip: string[];
  readonly bridge: string[];
}

export function planEntries(want: DesiredDataplane, actual: ActualEntries): EntryPlan {
  const dev = want.vtep.name;
  const ip: string[] = [];
  const bridge: string[] = [];

  const neigh = new Map(
    actual.neighbours
      .filter((n) => n.state?.includes('PERMANENT'))
      .map((n) => [n.dst, n.lladdr?.toLowerCase()]),
  );
  const wantNeigh = new Set(want.neighbours.map((n) => n.ip));
  for (const n of want.neighbours) {
    if (neigh.get(n.ip) !== n.mac) ip.push(`neigh replace ${n.ip} lladdr ${n.mac} dev ${dev} nud permanent`);
  }
  for (const dst of neigh.keys()) if (!wantNeigh.has(dst)) ip.push(`neigh del ${dst} dev ${dev}`);

  const tableOf = (t: string | undefined): string => (t === undefined || t === 'main' ? 'main' : t);
  const routes = new Map(actual.routes.map((r) => [`${tableOf(r.table)} ${canonical(r.dst)}`, r]));
  const wantRoutes = new Set<string>();
  for (const r of want.routes) {
    const key = `${r.table ?? 'main'} ${canonical(r.dst)}`;
    wantRoutes.add(key);
    const have = routes.get(key);
    if (!have || have.gateway !== r.via || have.dev !== dev) {
      ip.push(
        `route replace ${r.dst} via ${r.via} dev ${dev}${r.table ? ` table ${r.table}` : ''} proto ${ROUTE_PROTO}`,
      );
    }
  }
  for (const [key, r] of routes) {
    if (wantRoutes.has(key)) continue;
    const table = tableOf(r.table);
    ip.push(`route del ${r.dst}${table !== 'main' ? ` table ${table}` : ''} proto ${ROUTE_PROTO}`);
  }

  const rules = new Set(
    actual.rules
      .filter((r) => r.table === String(OVERLAY_TABLE) && r.src !== undefined)
      .map((r) => `${r.src}/${r.srclen ?? 32}`),
  );
  for (const from of want.rules)
    if (!rules.has(canonical(from))) ip.push(`rule add from ${from} lookup ${OVERLAY_TABLE}`);
  const wantRules = new Set(want.rules.map(canonical));
  for (const from of rules)
    if (!wantRules.has(from)) ip.push(`rule del from ${from} lookup ${OVERLAY_TABLE}`);

  // One unicast FDB entry per MAC: `replace` moves it to a new destination, so only MACs that are
  // no longer wanted at all are deleted.
  const fdb = new Map(
    actual.fdb
      .filter((f) => f.dst !== undefined && f.state === 'permanent' && f.mac !== '00:00:00:00:00:00')
      .map((f) => [f.mac.toLowerCase(), f.dst!]),
  );
  const wantFdb = new Map(want.fdb.map((f) => [f.mac, f.dst]));
  for (const [mac, dst] of fdb)
    if (!wantFdb.has(mac)) bridge.push(`fdb del ${mac} dev ${dev} dst ${dst} self`);
  for (const [mac, dst] of wantFdb) {
    if (fdb.get(mac) !== dst) bridge.push(`fdb replace ${mac} dev ${dev} dst ${dst} self permanent`);
  }
  return { ip, bridge };
}
