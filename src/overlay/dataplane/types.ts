// What each agent publishes about itself (store key overlay/nodes/<ip>, under a lease) and what
// the data plane of a node is derived from: the local allocation and every peer's publication.
import { z } from 'zod';

export const VXLAN_PORT = 64000;
/** Route protocol number marking the routes dcnet owns (read back with `proto 97`). */
export const ROUTE_PROTO = 97;
/** Policy routing table for traffic from overlay containers to other agents' host IPs. */
export const OVERLAY_TABLE = 42;

export const nodeInfoSchema = z
  .object({
    /** Underlay (agent) IPv4 address: the VXLAN destination. */
    ip: z.string(),
    vtep: z
      .object({
        /** CIDR form, e.g. 44.128.0.2/20. */
        ip: z.string(),
        ip6: z.string().optional(),
        mac: z.string(),
      })
      .strict(),
    overlays: z.array(
      z
        .object({
          name: z.string(),
          /** The whole overlay (info.subnet); peers match overlays by it, as Lashup keys did. */
          overlay_subnet: z.string().optional(),
          overlay_subnet6: z.string().optional(),
          /** This agent's slices. */
          subnet: z.string().optional(),
          subnet6: z.string().optional(),
        })
        .strict(),
    ),
  })
  .strict();

export type NodeInfo = z.infer<typeof nodeInfoSchema>;

export interface DesiredVtep {
  readonly name: string;
  readonly vni: number;
  readonly port: number;
  /** Underlay source address of the tunnel. */
  readonly local: string;
  readonly mac: string;
  readonly mtu: number;
  /** Addresses in CIDR form (IPv4, and IPv6 when configured). */
  readonly addrs: readonly string[];
}

export interface DesiredNeighbour {
  readonly ip: string;
  readonly mac: string;
}

export interface DesiredFdb {
  readonly mac: string;
  readonly dst: string;
}

export interface DesiredRoute {
  readonly dst: string;
  readonly via: string;
  /** Omitted for the main table. */
  readonly table?: number;
}

export interface DesiredDataplane {
  readonly vtep: DesiredVtep;
  readonly neighbours: readonly DesiredNeighbour[];
  readonly fdb: readonly DesiredFdb[];
  readonly routes: readonly DesiredRoute[];
  /** Sources that look up OVERLAY_TABLE (the overlays' IPv4 subnets). */
  readonly rules: readonly string[];
}
