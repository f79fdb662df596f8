// The `l4lb.thisdcos.directory` zone from the VIP table (specs/dcos-net.md §2.3): each named VIP
// is `<domain_frag(label)>.<domain_frag(framework)>.l4lb.thisdcos.directory`, A for its IPv4
// address and AAAA for its IPv6 one (dcos-net's sanitiser, §1.6, not Mesos-DNS's). IP VIPs get no name. The DNS server calls this.
import { dcosDomainFrag as domainFrag } from '../net/index.js';
import type { Vip, VipTable } from './types.js';

export const L4LB_ZONE = 'l4lb.thisdcos.directory';

/** Lower-case FQDN with the trailing dot, e.g. `web.marathon.l4lb.thisdcos.directory.`. */
export function vipFqdn(name: NonNullable<Vip['name']>): string {
  return `${domainFrag(name.label)}.${domainFrag(name.framework)}.${L4LB_ZONE}.`.toLowerCase();
}

export interface L4lbZoneRecords {
  readonly a: Map<string, Set<string>>;
  readonly aaaa: Map<string, Set<string>>;
}

export function l4lbZoneRecords(table: VipTable): L4lbZoneRecords {
  const a = new Map<string, Set<string>>();
  const aaaa = new Map<string, Set<string>>();
  for (const v of table.vips) {
    if (!v.name) continue;
    const owner = vipFqdn(v.name);
    const m = v.family === 4 ? a : aaaa;
    let set = m.get(owner);
    if (!set) m.set(owner, (set = new Set()));
    set.add(v.ip);
  }
  return { a, aaaa };
}
