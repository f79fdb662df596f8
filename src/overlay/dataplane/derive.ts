// desired = derive(local node, peers): pure. The routes, neighbours and FDB entries that make
// every peer's container subnets reachable through vtep1024 (specs/dcos-net.md §3.2, §3.4).
// Peers arrive parsed (typed fields); what is checked here is how they relate to each other.
import { cidrAddress, cidrNetwork, hostCidr, must, parseIfName, type IpCidr } from '../../net/index.js';
import {
  OVERLAY_TABLE,
  VXLAN_PORT,
  type DesiredDataplane,
  type DesiredRoute,
  type NodeInfo,
} from './types.js';
import { VNI, VTEP_NAME } from '../types.js';

const VTEP = must(parseIfName(VTEP_NAME));

/** The address part of a CIDR. */
export const addressOf = (cidr: string): string => cidr.slice(0, cidr.indexOf('/'));

const net = <C extends IpCidr>(c: C | undefined): C | undefined =>
  c === undefined ? undefined : cidrNetwork(c);

export interface DeriveProblem {
  readonly peer: string;
  /** The field of the peer's publication that conflicts. */
  readonly field: string;
  readonly problem: string;
}

export function deriveDataplane(
  local: NodeInfo,
  peers: readonly NodeInfo[],
  vtepMtu: number,
): { desired: DesiredDataplane; problems: DeriveProblem[] } {
  const problems: DeriveProblem[] = [];
  const localNets4 = new Set(local.overlays.map((o) => net(o.overlay_subnet)).filter((s) => s !== undefined));
  const localNets6 = new Set(
    local.overlays.map((o) => net(o.overlay_subnet6)).filter((s) => s !== undefined),
  );
  const neighbours = new Map<string, DesiredDataplane['neighbours'][number]>();
  const fdb = new Map<string, DesiredDataplane['fdb'][number]>();
  const routes = new Map<string, DesiredRoute>();
  const addRoute = (r: DesiredRoute): void => {
    routes.set(`${r.table ?? 'main'} ${r.dst}`, r);
  };
  // A VTEP address or MAC is one node's: a second claim would steer the first one's traffic.
  const vtepOwner = new Map<string, string>([
    [cidrAddress(local.vtep.ip), local.ip],
    [local.vtep.mac, local.ip],
  ]);
  const claim = (peer: NodeInfo, field: string, value: string): boolean => {
    const owner = vtepOwner.get(value);
    if (owner !== undefined && owner !== peer.ip) {
      problems.push({ peer: peer.ip, field, problem: `${value} is already ${owner}'s` });
      return false;
    }
    return true;
  };

  for (const peer of [...peers].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0))) {
    if (peer.ip === local.ip) continue;
    const via4 = cidrAddress(peer.vtep.ip);
    const via6 =
      peer.vtep.ip6 !== undefined && local.vtep.ip6 !== undefined ? cidrAddress(peer.vtep.ip6) : undefined;
    if (
      !claim(peer, 'vtep.ip', via4) ||
      !claim(peer, 'vtep.mac', peer.vtep.mac) ||
      (via6 !== undefined && !claim(peer, 'vtep.ip6', via6))
    )
      continue;
    const peerRoutes: DesiredRoute[] = [];
    for (const o of peer.overlays) {
      const net4 = net(o.overlay_subnet);
      const slice4 = net(o.subnet);
      if (net4 !== undefined && localNets4.has(net4) && slice4 !== undefined)
        peerRoutes.push({ dst: slice4, via: via4 });
      const net6 = net(o.overlay_subnet6);
      const slice6 = net(o.subnet6);
      if (net6 !== undefined && localNets6.has(net6) && slice6 !== undefined && via6 !== undefined)
        peerRoutes.push({ dst: slice6, via: via6 });
    }
    const shared = peer.overlays.some(
      (o) =>
        (o.overlay_subnet !== undefined && localNets4.has(net(o.overlay_subnet)!)) ||
        (o.overlay_subnet6 !== undefined && localNets6.has(net(o.overlay_subnet6)!)),
    );
    if (!shared) continue;
    vtepOwner.set(via4, peer.ip);
    vtepOwner.set(peer.vtep.mac, peer.ip);
    if (via6 !== undefined) vtepOwner.set(via6, peer.ip);
    for (const r of peerRoutes) addRoute(r);
    neighbours.set(via4, { ip: via4, mac: peer.vtep.mac });
    if (via6 !== undefined) neighbours.set(via6, { ip: via6, mac: peer.vtep.mac });
    fdb.set(peer.vtep.mac, { mac: peer.vtep.mac, dst: peer.ip });
    addRoute({ dst: hostCidr(peer.ip), via: via4, table: OVERLAY_TABLE });
  }

  const rules = [...localNets4].sort();
  return {
    desired: {
      vtep: {
        name: VTEP,
        vni: VNI,
        port: VXLAN_PORT,
        local: local.ip,
        mac: local.vtep.mac,
        mtu: vtepMtu,
        addrs: [local.vtep.ip, ...(local.vtep.ip6 !== undefined ? [local.vtep.ip6] : [])],
      },
      neighbours: [...neighbours.values()],
      fdb: [...fdb.values()],
      routes: [...routes.values()],
      rules,
    },
    problems,
  };
}
