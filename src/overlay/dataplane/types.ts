// What each agent publishes about itself (store key overlay/nodes/<ip>, under a lease) and what
// the data plane of a node is derived from: the local allocation and every peer's publication.
// Every field that reaches the kernel is a typed value, parsed where the publication is read.
import { z } from 'zod';
import {
  zIpv4,
  zIpv4Cidr,
  zIpv6Cidr,
  zMac,
  zOverlayName,
  must,
  parsePort,
  type IfName,
  type IpAddr,
  type IpCidr,
  type Ipv4,
  type Ipv4Cidr,
  type Mac,
  type Port,
} from '../../net/index.js';

export const VXLAN_PORT: Port = must(parsePort(64000));
/** Route protocol number marking the routes dcnet owns (read back with `proto 97`). */
export const ROUTE_PROTO = 97;
/** Policy routing table for traffic from overlay containers to other agents' host IPs. */
export const OVERLAY_TABLE = 42;

export const nodeInfoSchema = z
  .object({
    /** Underlay (agent) IPv4 address: the VXLAN destination. */
    ip: zIpv4,
    vtep: z
      .object({
        /** CIDR form, e.g. 44.128.0.2/20. */
        ip: zIpv4Cidr,
        ip6: zIpv6Cidr.optional(),
        mac: zMac,
      })
      .strict(),
    overlays: z.array(
      z
        .object({
          name: zOverlayName,
          /** The whole overlay (info.subnet); peers match overlays by it, as Lashup keys did. */
          overlay_subnet: zIpv4Cidr.optional(),
          overlay_subnet6: zIpv6Cidr.optional(),
          /** This agent's slices. */
          subnet: zIpv4Cidr.optional(),
          subnet6: zIpv6Cidr.optional(),
        })
        .strict(),
    ),
  })
  .strict();

/** A parsed publication (branded fields). */
export type NodeInfo = z.output<typeof nodeInfoSchema>;
/** The same as JSON text has it, before parsing. */
export type NodeInfoDoc = z.input<typeof nodeInfoSchema>;

export interface DesiredVtep {
  readonly name: IfName;
  readonly vni: number;
  readonly port: Port;
  /** Underlay source address of the tunnel. */
  readonly local: Ipv4;
  readonly mac: Mac;
  readonly mtu: number;
  /** Addresses in CIDR form (IPv4, and IPv6 when configured). */
  readonly addrs: readonly IpCidr[];
}

export interface DesiredNeighbour {
  readonly ip: IpAddr;
  readonly mac: Mac;
}

export interface DesiredFdb {
  readonly mac: Mac;
  readonly dst: Ipv4;
}

export interface DesiredRoute {
  readonly dst: IpCidr;
  readonly via: IpAddr;
  /** Omitted for the main table. */
  readonly table?: number;
}

export interface DesiredDataplane {
  readonly vtep: DesiredVtep;
  readonly neighbours: readonly DesiredNeighbour[];
  readonly fdb: readonly DesiredFdb[];
  readonly routes: readonly DesiredRoute[];
  /** Sources that look up OVERLAY_TABLE (the overlays' IPv4 subnets). */
  readonly rules: readonly Ipv4Cidr[];
}
