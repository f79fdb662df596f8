// The node roles `dcnet agent` runs beside the overlay: the node-local DNS (dcos-dns).
import type { AgentRole } from '../overlay/index.js';
import { registerDcosDnsRoutes, startNodeDns } from '../dns/dcos/index.js';
import type { ListenAddress, Upstream } from '../dns/server/index.js';
import { DCNET_VERSION } from './version.js';

export interface DnsRoleOptions {
  readonly ip: string;
  readonly listen: readonly ListenAddress[];
  readonly mesosResolvers: readonly Upstream[];
  readonly upstreams?: readonly Upstream[];
  readonly forwardZones?: Readonly<Record<string, readonly Upstream[]>>;
  readonly masterIps: readonly string[];
  readonly publicIps?: readonly string[];
}

export function dnsRole(o: DnsRoleOptions): AgentRole {
  return async ({ app, registry, store, log }) => {
    const dns = await startNodeDns({
      log: log.child({ part: 'dns' }),
      store,
      registry,
      privateIp: o.ip,
      listen: o.listen,
      mesosResolvers: o.mesosResolvers,
      masterIps: o.masterIps,
      ...(o.upstreams && { upstreams: o.upstreams }),
      ...(o.forwardZones && { forwardZones: o.forwardZones }),
      ...(o.publicIps && { publicIps: o.publicIps }),
    });
    registerDcosDnsRoutes(app, dns.zones, DCNET_VERSION);
    return dns;
  };
}
