// The node roles `dcnet agent` runs beside the overlay: the VIP load balancer (nftables) and the
// node-local DNS (dcos-dns), which names exactly the VIPs the kernel serves.
import type { AgentRole } from '../overlay/index.js';
import {
  registerDcosDnsRoutes,
  ResolvConfWatchdog,
  startNodeDns,
  ZONES,
  type NodeDns,
} from '../dns/dcos/index.js';
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
  /** Manage this resolv.conf (local DNS while it answers ready.spartan, else the upstreams). */
  readonly resolvConf?: { readonly path: string; readonly intervalMs: number };
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
    roles.push(async ({ app, registry, store, log, addHealth, setResolvConfMode }) => {
      // resolv.conf can only name port-53 servers: the node DNS addresses listened on at 53.
      const local = d.listen.filter((l) => l.port === 53 && !/^(0\.0\.0\.0|::)$/.test(l.host));
      const watchdog =
        d.resolvConf && local.length > 0
          ? new ResolvConfWatchdog({
              log: log.child({ part: 'resolv.conf' }),
              path: d.resolvConf.path,
              local: local.map((l) => l.host),
              ...(d.upstreams && {
                upstreams: d.upstreams.filter((u) => u.port === 53).map((u) => u.host),
              }),
              probe: local[0]!,
              intervalMs: d.resolvConf.intervalMs,
              timeoutMs: Math.min(2000, d.resolvConf.intervalMs * 0.8),
              registry,
              onMode: setResolvConfMode,
            })
          : undefined;
      if (!watchdog) setResolvConfMode('unmanaged');
      if (d.resolvConf && !watchdog)
        log.warn({ listen: d.listen }, 'resolv.conf left alone: the node DNS listens on no port-53 address');
      // Before the DNS starts: once resolv.conf names the node DNS, the original file holds the
      // upstreams it forwards to.
      await watchdog?.prepare();
      const upstreams = d.upstreams ?? (watchdog && watchdog.upstreams().map((host) => ({ host, port: 53 })));
      dns = await startNodeDns({
        log: log.child({ part: 'dns' }),
        store,
        registry,
        privateIp: d.ip,
        listen: d.listen,
        mesosResolvers: d.mesosResolvers,
        masterIps: d.masterIps,
        ...(upstreams && { upstreams }),
        ...(d.forwardZones && { forwardZones: d.forwardZones }),
        ...(d.publicIps && { publicIps: d.publicIps }),
        ...(d.clientRateLimit !== undefined && { clientRateLimit: d.clientRateLimit }),
        ...(d.maxForwarding !== undefined && { maxForwarding: d.maxForwarding }),
      });
      registerDcosDnsRoutes(app, dns.zones, DCNET_VERSION);
      publishVipNames();
      const node = dns;
      await watchdog?.start();
      addHealth('resolv_conf', () =>
        watchdog ? { path: d.resolvConf!.path, mode: watchdog.currentMode } : { mode: 'unmanaged' },
      );
      return {
        async close() {
          await watchdog?.close();
          await node.close();
        },
      };
    });
  }
  return roles;
}
