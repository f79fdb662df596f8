// desired = derive(local node, peers): pure. The routes, neighbours and FDB entries that make
// every peer's container subnets reachable through vtep1024 (specs/dcos-net.md §3.2, §3.4).
import { parseCidr, formatCidr, networkOf, formatAddress } from '../../net/index.js';
import {
  OVERLAY_TABLE,
  VXLAN_PORT,
  type DesiredDataplane,
  type DesiredRoute,
  type NodeInfo,
} from './types.js';
import { VNI, VTEP_NAME } from '../types.js';

/** The address part of a CIDR. */
export const addressOf = (cidr: string): string => cidr.slice(0, cidr.indexOf('/'));

/** Canonical text of a CIDR's network (peers may publish unmasked text). */
function canonicalNet(text: string | undefined): string | undefined {
  const c = text === undefined ? undefined : parseCidr(text);
  return c && formatCidr({ ...c, addr: networkOf(c) });
}

export interface DeriveProblem {
  readonly peer: string;
  readonly problem: string;
}

export function deriveDataplane(
  local: NodeInfo,
  peers: readonly NodeInfo[],
  vtepMtu: number,
): { desired: DesiredDataplane; problems: DeriveProblem[] } {
  const problems: DeriveProblem[] = [];
  const localNets4 = new Set(
    local.overlays.map((o) => canonicalNet(o.overlay_subnet)).filter((s) => s !== undefined),
  );
  const localNets6 = new Set(
    local.overlays.map((o) => canonicalNet(o.overlay_subnet6)).filter((s) => s !== undefined),
  );
  const neighbours = new Map<string, string>();
  const fdb = new Map<string, string>();
  const routes = new Map<string, DesiredRoute>();
  const addRoute = (r: DesiredRoute): void => {
    routes.set(`${r.table ?? 'main'} ${r.dst}`, r);
  };

  for (const peer of [...peers].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0))) {
    if (peer.ip === local.ip) continue;
    const vtep4 = parseCidr(peer.vtep.ip);
    if (!vtep4 || vtep4.family !== 4) {
      problems.push({ peer: peer.ip, problem: `vtep.ip "${peer.vtep.ip}" is not an IPv4 CIDR` });
      continue;
    }
    const via4 = formatAddress(4, vtep4.addr);
    const vtep6 = peer.vtep.ip6 !== undefined ? parseCidr(peer.vtep.ip6) : undefined;
    const via6 =
      vtep6?.family === 6 && local.vtep.ip6 !== undefined ? formatAddress(6, vtep6.addr) : undefined;
    let shared = false;
    for (const o of peer.overlays) {
      const net4 = canonicalNet(o.overlay_subnet);
      const slice4 = canonicalNet(o.subnet);
      if (net4 !== undefined && localNets4.has(net4)) {
        shared = true;
        if (slice4 !== undefined) addRoute({ dst: slice4, via: via4 });
      }
      const net6 = canonicalNet(o.overlay_subnet6);
      const slice6 = canonicalNet(o.subnet6);
      if (net6 !== undefined && localNets6.has(net6)) {
        shared = true;
        if (slice6 !== undefined && via6 !== undefined) addRoute({ dst: slice6, via: via6 });
      }
    }
    if (!shared) continue;
    neighbours.set(via4, peer.vtep.mac);
    if (via6 !== undefined) neighbours.set(via6, peer.vtep.mac);
    fdb.set(peer.vtep.mac, peer.ip);
    addRoute({ dst: `${peer.ip}/32`, via: via4, table: OVERLAY_TABLE });
  }

  const rules = [...localNets4].sort();
  return {
    desired: {
      vtep: {
        name: VTEP_NAME,
        vni: VNI,
        port: VXLAN_PORT,
        local: local.ip,
        mac: local.vtep.mac,
        mtu: vtepMtu,
        addrs: [local.vtep.ip, ...(local.vtep.ip6 !== undefined ? [local.vtep.ip6] : [])],
      },
      neighbours: [...neighbours].map(([ip, mac]) => ({ ip, mac })),
      fdb: [...fdb].map(([mac, dst]) => ({ mac, dst })),
      routes: [...routes.values()],
      rules,
    },
    problems,
  };
}
