// The node roles `dcnet agent` runs beside the overlay: the VIP load balancer (nftables) and the
// node-local DNS (dcos-dns), which names exactly the VIPs the kernel serves.
import type { AgentRole } from '../overlay/index.js';
import { registerDcosDnsRoutes, startNodeDns, ZONES, type NodeDns } from '../dns/dcos/index.js';
import type { ClientRateLimitOptions, ListenAddress, Upstream } from '../dns/server/index.js';
import { L4lbAgent, l4lbZoneRecords, registerL4lbRoutes } from '../l4lb/index.js';
import { DCNET_VERSION } from './version.js';

export interface DnsRoleOptions {
  readonly ip: string;
  readonly listen: readonly ListenAddress[];
  readonly mesosResolvers: readonly Upstream[];
  readonly upstreams?: readonly Upstream[];
  readonly forwardZones?: Readonly<Record<string, readonly Upstream[]>>;
  readonly masterIps: readonly string[];
  readonly publicIps?: readonly string[];
  /** Default: the node DNS's (NODE_DNS_CLIENT_QPS); false = none. */
  readonly clientRateLimit?: ClientRateLimitOptions | false;
  readonly maxForwarding?: number;
}

export interface L4lbRoleOptions {
  readonly ip: string;
  readonly resyncMs: number;
}

export function nodeRoles(o: { dns?: DnsRoleOptions; l4lb?: L4lbRoleOptions }): AgentRole[] {
  let l4lb: L4lbAgent | undefined;
  let dns: NodeDns | undefined;
  const publishVipNames = (): void => {
    const table = l4lb?.programmedTable();
    if (!dns || !table) return;
    const { a, aaaa } = l4lbZoneRecords(table);
    dns.zones.setLocalZone(ZONES.l4lb, { a, aaaa, srv: new Map(), cname: new Map() });
  };
  const roles: AgentRole[] = [];
  if (o.l4lb) {
    const opts = o.l4lb;
    roles.push(async ({ app, registry, store, log, rejections }) => {
      const agent = new L4lbAgent({
        store,
        selfIp: opts.ip,
        log: log.child({ part: 'l4lb' }),
        rejections,
        resyncMs: opts.resyncMs,
      });
      l4lb = agent;
      registerL4lbRoutes(app, registry, agent);
      agent.onSynced(() => publishVipNames());
      agent.start();
      // The table stays in the kernel when the agent stops: traffic keeps flowing across restarts.
      return { close: () => agent.stop() };
    });
  }
  if (o.dns) {
    const d = o.dns;
    roles.push(async ({ app, registry, store, log }) => {
      dns = await startNodeDns({
        log: log.child({ part: 'dns' }),
        store,
        registry,
        privateIp: d.ip,
        listen: d.listen,
        mesosResolvers: d.mesosResolvers,
        masterIps: d.masterIps,
        ...(d.upstreams && { upstreams: d.upstreams }),
        ...(d.forwardZones && { forwardZones: d.forwardZones }),
        ...(d.publicIps && { publicIps: d.publicIps }),
        ...(d.clientRateLimit !== undefined && { clientRateLimit: d.clientRateLimit }),
        ...(d.maxForwarding !== undefined && { maxForwarding: d.maxForwarding }),
      });
      registerDcosDnsRoutes(app, dns.zones, DCNET_VERSION);
      publishVipNames();
      return dns;
    });
  }
  return roles;
}
