// Which addresses an IP-form VIP label (`VIP_0=11.1.2.3:80`) may claim. A VIP is programmed on
// every node and wins over the real destination, so a tenant who could declare any address would
// capture traffic meant for a node, a master, an overlay gateway, the DNS servers or another
// task (the CVE-2020-8554 pattern of Kubernetes externalIPs). IP VIPs are therefore accepted only
// inside configured ranges (default: the named-VIP ranges 11.0.0.0/8 and fd01:c::/64), and never
// on an address the cluster uses, whatever the ranges say.
import {
  addressInCidr,
  formatAddress,
  formatCidr,
  lastOf,
  networkOf,
  parseAddress,
  parseCidr,
  type Cidr,
  type Family,
} from '../net/index.js';

/** An inclusive address range (a CIDR, or a named-VIP min..max). */
export interface AddressRange {
  readonly family: Family;
  readonly first: bigint;
  readonly last: bigint;
  /** As the operator wrote it, for messages. */
  readonly text: string;
}

/** Addresses no VIP may take, with what they are ("agent S1", "overlay dcos subnet"). */
export interface ForbiddenRange {
  readonly cidr: Cidr;
  readonly what: string;
}

export interface VipAddressPolicy {
  /** IP VIPs must lie in one of these. */
  readonly allowed: readonly AddressRange[];
  /** No VIP may take these (checked first, so the error says what the address is). */
  readonly forbidden: readonly ForbiddenRange[];
}

export const rangeOfCidr = (cidr: Cidr, text?: string): AddressRange => ({
  family: cidr.family,
  first: networkOf(cidr),
  last: lastOf(cidr),
  text: text ?? `${formatAddress(cidr.family, networkOf(cidr))}/${cidr.prefix}`,
});

const cidr = (text: string): Cidr => parseCidr(text)!;
const host = (ip: string): Cidr => cidr(ip.includes(':') ? `${ip}/128` : `${ip}/32`);

/** The named-VIP ranges DC/OS configures (`dcos_l4lb_min/max_named_ip(6)`), as CIDRs. */
export const DEFAULT_IP_VIP_RANGES: readonly AddressRange[] = ['11.0.0.0/8', 'fd01:c::/64'].map((t) =>
  rangeOfCidr(cidr(t), t),
);

/** Addresses that are never a VIP, on any cluster. */
export const RESERVED_ADDRESSES: readonly ForbiddenRange[] = [
  { cidr: cidr('127.0.0.0/8'), what: 'loopback' },
  { cidr: cidr('::1/128'), what: 'loopback' },
  { cidr: cidr('0.0.0.0/8'), what: '"this network" (0.0.0.0/8)' },
  { cidr: cidr('::/128'), what: 'the unspecified address' },
  { cidr: cidr('169.254.0.0/16'), what: 'link-local (metadata services live here)' },
  { cidr: cidr('fe80::/10'), what: 'link-local' },
  { cidr: cidr('224.0.0.0/4'), what: 'multicast' },
  { cidr: cidr('ff00::/8'), what: 'multicast' },
  { cidr: cidr('255.255.255.255/32'), what: 'broadcast' },
  // dcos-dns listens on these on every node (specs/dcos-net.md §1.1); 198.51.100.4 is the
  // masters' blacklisted one.
  ...['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', 'fd01:d::c633:6401'].map((ip) => ({
    cidr: host(ip),
    what: 'a DC/OS DNS address',
  })),
];

export const DEFAULT_VIP_POLICY: VipAddressPolicy = {
  allowed: DEFAULT_IP_VIP_RANGES,
  forbidden: RESERVED_ADDRESSES,
};

/** A policy with more forbidden addresses (nodes, overlay subnets, …); reserved ones always stay. */
export function vipPolicy(o: {
  readonly allowed?: readonly AddressRange[];
  readonly forbidden?: readonly ForbiddenRange[];
}): VipAddressPolicy {
  return {
    allowed: o.allowed ?? DEFAULT_IP_VIP_RANGES,
    forbidden: [...RESERVED_ADDRESSES, ...(o.forbidden ?? [])],
  };
}

export type VipAddressRefusal =
  | { readonly code: 'VIP_ADDRESS_FORBIDDEN'; readonly message: string }
  | { readonly code: 'VIP_OUTSIDE_RANGES'; readonly message: string };

/** Checks IP VIP addresses: `exact` are single addresses known per derivation (agents, tasks),
 *  looked up by value; `policy` holds the ranges. */
export class VipAddressGuard {
  private readonly exact = new Map<string, string>();

  constructor(private readonly policy: VipAddressPolicy) {}

  /** Forbids one more address (`what` names it in the error); the first name given is kept. */
  forbid(family: Family, value: bigint, what: string): void {
    const key = `${family} ${value}`;
    if (!this.exact.has(key)) this.exact.set(key, what);
  }

  /** Why `ip` may not be an IP VIP; undefined when it may. */
  check(ip: string, family: Family, value: bigint): VipAddressRefusal | undefined {
    const what =
      this.exact.get(`${family} ${value}`) ??
      this.policy.forbidden.find((f) => addressInCidr(f.cidr, family, value))?.what;
    if (what !== undefined)
      return { code: 'VIP_ADDRESS_FORBIDDEN', message: `${ip} is ${what}; a VIP may not take it` };
    if (!this.policy.allowed.some((r) => r.family === family && r.first <= value && value <= r.last))
      return {
        code: 'VIP_OUTSIDE_RANGES',
        message: `${ip} is outside the IP VIP ranges (${
          this.policy.allowed
            .filter((r) => r.family === family)
            .map((r) => r.text)
            .join(', ') || `none for IPv${family}`
        })`,
      };
    return undefined;
  }
}

export interface ClusterAddresses {
  /** The named-VIP ranges (IP VIPs may be there too); default DC/OS's. */
  readonly namedRanges?: readonly { readonly min: string; readonly max: string }[];
  /** More ranges for IP VIPs (`dcos_l4lb_ip_vip_ranges`). */
  readonly extraRanges?: readonly Cidr[];
  /** Overlay subnets: container addresses and the agents' gateways on them. */
  readonly overlays?: readonly { readonly name: string; readonly subnet: Cidr }[];
  /** VTEP pools: every agent's vtep1024 address. */
  readonly vtepSubnets?: readonly Cidr[];
  /** Mesos masters (from `--mesos`) and this master's own addresses. */
  readonly masters?: readonly string[];
  readonly localAddresses?: readonly string[];
}

/** The policy of a cluster: its ranges, and its nodes' and overlays' addresses forbidden. */
export function clusterVipPolicy(o: ClusterAddresses): VipAddressPolicy {
  const named = (o.namedRanges ?? []).flatMap((r): AddressRange[] => {
    const min = parseAddress(r.min);
    const max = parseAddress(r.max);
    return min && max && min.family === max.family
      ? [{ family: min.family, first: min.value, last: max.value, text: `${r.min}-${r.max}` }]
      : [];
  });
  const allowed = [
    ...(named.length > 0 ? named : DEFAULT_IP_VIP_RANGES),
    ...(o.extraRanges ?? []).map((c) => rangeOfCidr(c)),
  ];
  const hostOf = (ip: string): Cidr | undefined => (parseAddress(ip) ? host(ip) : undefined);
  const forbidden: ForbiddenRange[] = [
    ...(o.masters ?? []).flatMap((ip) => {
      const c = hostOf(ip);
      return c ? [{ cidr: c, what: 'the address of a Mesos master' }] : [];
    }),
    ...(o.localAddresses ?? []).flatMap((ip) => {
      const c = hostOf(ip);
      return c ? [{ cidr: c, what: "an address of this master's node" }] : [];
    }),
    ...(o.overlays ?? []).map((ov) => ({
      cidr: ov.subnet,
      what: `inside overlay ${ov.name} (${formatCidr(ov.subnet)}: containers and their gateways)`,
    })),
    ...(o.vtepSubnets ?? []).map((c) => ({ cidr: c, what: `inside the VTEP pool ${formatCidr(c)}` })),
  ];
  return vipPolicy({ allowed, forbidden });
}
