// The difference between desired and actual kernel state as typed iproute2 commands: pure, so that
// the plan for any state is a unit test (kernel/ renders the lines). Only what dcnet owns is ever
// removed: the vtep1024 device's permanent neighbours and FDB entries, routes of protocol
// ROUTE_PROTO, rules to table 42.
import type {
  BridgeCommand,
  FdbEntry,
  IpCommand,
  LinkInfo,
  NeighEntry,
  RouteEntry,
  RuleEntry,
} from '../../kernel/index.js';
import { ipFamily, type IpCidr } from '../../net/index.js';
import { OVERLAY_TABLE, ROUTE_PROTO, type DesiredDataplane, type DesiredVtep } from './types.js';

/** Link and address changes. A VTEP whose identity differs is deleted first (its entries go). */
export function planVtep(
  want: DesiredVtep,
  link: LinkInfo | undefined,
  addrs: readonly IpCidr[],
): IpCommand[] {
  const cmds: IpCommand[] = [];
  const data = link?.linkinfo?.info_data;
  const matches =
    link !== undefined &&
    link.linkinfo?.info_kind === 'vxlan' &&
    data?.id === want.vni &&
    data.port === want.port &&
    data.local === want.local &&
    data.learning === false &&
    data.udp_csum === false;
  const name = want.name;
  if (!matches) {
    if (link) cmds.push({ op: 'link-del', name });
    // No outer UDP checksum, as dcos-net creates it (udpcsum 0): the inner packets carry their own.
    cmds.push(
      { op: 'link-add-vxlan', name, vni: want.vni, port: want.port, local: want.local },
      { op: 'link-set', name, address: want.mac, mtu: want.mtu, up: true },
    );
  } else {
    // Setting the MAC again would flush the static neighbours (DCOS_OSS-3855): only when it differs.
    const set: { address?: DesiredVtep['mac']; mtu?: number; up?: true } = {};
    if (link.address !== want.mac) set.address = want.mac;
    if (link.mtu !== want.mtu) set.mtu = want.mtu;
    if (!link.flags.includes('UP')) set.up = true;
    if (Object.keys(set).length) cmds.push({ op: 'link-set', name, ...set });
  }
  const have = new Set<string>(matches ? addrs : []);
  const wanted = new Set<string>(want.addrs);
  for (const a of want.addrs) {
    if (!have.has(a))
      cmds.push({
        op: 'addr-replace',
        dev: name,
        addr: a,
        ...(ipFamily(a) === 6 && { nodad: true as const }),
      });
  }
  for (const a of matches ? addrs : []) if (!wanted.has(a)) cmds.push({ op: 'addr-del', dev: name, addr: a });
  return cmds;
}

export interface ActualEntries {
  readonly neighbours: readonly NeighEntry[];
  readonly fdb: readonly FdbEntry[];
  readonly routes: readonly RouteEntry[];
  readonly rules: readonly RuleEntry[];
}

export interface EntryPlan {
  readonly ip: IpCommand[];
  readonly bridge: BridgeCommand[];
}

export function planEntries(want: DesiredDataplane, actual: ActualEntries): EntryPlan {
  const dev = want.vtep.name;
  const ip: IpCommand[] = [];
  const bridge: BridgeCommand[] = [];

  const neigh = new Map(
    actual.neighbours.filter((n) => n.state?.includes('PERMANENT')).map((n) => [n.dst, n.lladdr]),
  );
  const wantNeigh = new Set<string>(want.neighbours.map((n) => n.ip));
  for (const n of want.neighbours) {
    if (neigh.get(n.ip) !== n.mac) ip.push({ op: 'neigh-replace', dst: n.ip, lladdr: n.mac, dev });
  }
  for (const dst of neigh.keys()) if (!wantNeigh.has(dst)) ip.push({ op: 'neigh-del', dst, dev });

  const tableOf = (t: string | undefined): string => (t === undefined || t === 'main' ? 'main' : t);
  const routes = new Map(actual.routes.map((r) => [`${tableOf(r.table)} ${r.dst}`, r]));
  const wantRoutes = new Set<string>();
  for (const r of want.routes) {
    const key = `${r.table ?? 'main'} ${r.dst}`;
    wantRoutes.add(key);
    const have = routes.get(key);
    if (!have || have.gateway !== r.via || have.dev !== dev) {
      ip.push({
        op: 'route-replace',
        dst: r.dst,
        via: r.via,
        dev,
        ...(r.table !== undefined && { table: r.table }),
        proto: ROUTE_PROTO,
      });
    }
  }
  for (const [key, r] of routes) {
    if (wantRoutes.has(key)) continue;
    const table = tableOf(r.table);
    const id = table === 'main' ? undefined : Number(table);
    // A table the kernel names (local, default) is not one dcnet writes routes into.
    if (id !== undefined && !Number.isInteger(id)) continue;
    ip.push({ op: 'route-del', dst: r.dst, ...(id !== undefined && { table: id }), proto: ROUTE_PROTO });
  }

  const rules = new Set<string>(
    actual.rules.filter((r) => r.table === String(OVERLAY_TABLE) && r.from !== undefined).map((r) => r.from!),
  );
  for (const from of want.rules)
    if (!rules.has(from)) ip.push({ op: 'rule-add', from, table: OVERLAY_TABLE });
  const wantRules = new Set<string>(want.rules);
  for (const r of actual.rules) {
    if (r.table !== String(OVERLAY_TABLE) || r.from === undefined || wantRules.has(r.from)) continue;
    ip.push({ op: 'rule-del', from: r.from, table: OVERLAY_TABLE });
  }

  // One unicast FDB entry per MAC: `replace` moves it to a new destination, so only MACs that are
  // no longer wanted at all are deleted.
  const fdb = new Map(
    actual.fdb.filter((f) => f.dst !== undefined && f.state === 'permanent').map((f) => [f.mac, f.dst!]),
  );
  const wantFdb = new Map(want.fdb.map((f) => [f.mac, f.dst]));
  for (const [mac, dst] of fdb) if (!wantFdb.has(mac)) bridge.push({ op: 'fdb-del', mac, dev, dst });
  for (const [mac, dst] of wantFdb) {
    if (fdb.get(mac) !== dst) bridge.push({ op: 'fdb-replace', mac, dev, dst });
  }
  return { ip, bridge };
}
