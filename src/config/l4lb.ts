// The L4LB keys of a DC/OS config.yaml: the named-VIP ranges (`dcos_l4lb_min/max_named_ip(6)`)
// and, a dcnet extension, `dcos_l4lb_ip_vip_ranges`: the CIDRs where IP-form VIP labels
// (`VIP_0=10.1.2.3:80`) may also be. IP VIPs are accepted only inside the named ranges and these;
// a range that overlaps an overlay or VTEP subnet is refused here (the L4LB would refuse each of
// those addresses anyway, as the nodes' and containers' own).
import {
  cidrsOverlap,
  formatCidr,
  lastOf,
  networkOf,
  parseAddress,
  parseCidr,
  type Cidr,
  type Family,
} from '../net/index.js';
import type { NetworkConfig } from './validate.js';

export interface NamedVipRange {
  readonly min: string;
  readonly max: string;
}

export interface L4lbConfig {
  readonly namedRange4: NamedVipRange;
  readonly namedRange6: NamedVipRange;
  /** Extra ranges for IP VIPs (besides the named ranges). */
  readonly ipVipRanges: readonly Cidr[];
}

export interface RawL4lbKeys {
  readonly dcos_l4lb_min_named_ip?: string | undefined;
  readonly dcos_l4lb_max_named_ip?: string | undefined;
  readonly dcos_l4lb_min_named_ip6?: string | undefined;
  readonly dcos_l4lb_max_named_ip6?: string | undefined;
  readonly dcos_l4lb_ip_vip_ranges?: readonly string[] | undefined;
}

/** DC/OS's values (gen/calc.py; the Erlang default max is 11.255.255.254). */
export const DEFAULT_NAMED_RANGE4: NamedVipRange = { min: '11.0.0.0', max: '11.255.255.255' };
export const DEFAULT_NAMED_RANGE6: NamedVipRange = { min: 'fd01:c::', max: 'fd01:c::ffff:ffff:ffff:ffff' };

export function validateL4lb(raw: RawL4lbKeys, network: NetworkConfig, problems: string[]): L4lbConfig {
  const range = (family: Family, dflt: NamedVipRange): NamedVipRange => {
    const six = family === 6 ? '6' : '';
    const [minKey, maxKey] = [`dcos_l4lb_min_named_ip${six}`, `dcos_l4lb_max_named_ip${six}`] as const;
    const min = raw[minKey] ?? dflt.min;
    const max = raw[maxKey] ?? dflt.max;
    const a = parseAddress(min);
    const b = parseAddress(max);
    if (a?.family !== family) problems.push(`${minKey}: "${min}" is not an IPv${family} address`);
    if (b?.family !== family) problems.push(`${maxKey}: "${max}" is not an IPv${family} address`);
    else if (a?.family === family && b.value <= a.value)
      problems.push(`${maxKey}: ${max} must be above ${minKey} ${min}`);
    return { min, max };
  };
  const pools: { what: string; cidr: Cidr }[] = [
    { what: 'dcos_overlay_network.vtep_subnet', cidr: network.vtep4 },
    ...(network.vtep6 ? [{ what: 'dcos_overlay_network.vtep_subnet6', cidr: network.vtep6 }] : []),
    ...network.overlays.flatMap((o) =>
      [o.v4, o.v6]
        .filter((p) => p !== undefined)
        .map((p) => ({ what: `overlay "${o.name}"`, cidr: p.subnet })),
    ),
  ];
  // A named VIP inside an overlay or VTEP subnet would be some container's or node's address.
  const named = (family: Family, dflt: NamedVipRange): NamedVipRange => {
    const r = range(family, dflt);
    const [a, b] = [parseAddress(r.min), parseAddress(r.max)];
    if (a?.family !== family || b?.family !== family || b.value <= a.value) return r;
    const six = family === 6 ? '6' : '';
    const clash = pools.find(
      (p) => p.cidr.family === family && networkOf(p.cidr) <= b.value && a.value <= lastOf(p.cidr),
    );
    if (clash)
      problems.push(
        `dcos_l4lb_min_named_ip${six}/dcos_l4lb_max_named_ip${six}: ${r.min}–${r.max} overlaps ${clash.what} ` +
          `(${formatCidr(clash.cidr)}): containers and nodes live there`,
      );
    return r;
  };
  const namedRange4 = named(4, DEFAULT_NAMED_RANGE4);
  const namedRange6 = named(6, DEFAULT_NAMED_RANGE6);
  const ipVipRanges: Cidr[] = [];
  (raw.dcos_l4lb_ip_vip_ranges ?? []).forEach((text, i) => {
    const where = `dcos_l4lb_ip_vip_ranges[${i}]`;
    const c = parseCidr(text);
    if (!c) return void problems.push(`${where}: "${text}" is not a CIDR`);
    const clash = pools.find((p) => cidrsOverlap(p.cidr, c));
    if (clash)
      return void problems.push(
        `${where}: ${text} overlaps ${clash.what} (${formatCidr(clash.cidr)}): containers and nodes live there`,
      );
    ipVipRanges.push(c);
  });
  return { namedRange4, namedRange6, ipVipRanges };
}
