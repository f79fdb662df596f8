// The zone table of a Mesos-DNS server (specs/mesos-dns.md §3.1, §3.9): the Mesos domain to the
// responder, each `ZoneResolvers` zone to a forwarder of its own (only with ExternalOn), and `.`
// to the default forwarder (REFUSED for everything when ExternalOn is false).
import type { AllowList } from './access.js';
import { createMesosForwarder, type ForwardCache } from './forward.js';
import type { DnsMetrics } from './metrics.js';
import type { MesosResponder } from './mesos-responder.js';
import type { DnsHandler, Upstream } from './types.js';
import { fqdn } from './wire.js';

export interface MesosDnsZonesOptions {
  readonly responder: MesosResponder;
  readonly externalOn?: boolean;
  /** `Resolvers` (bare IPs get port 53 through parseUpstream). */
  readonly resolvers: readonly Upstream[];
  /** `ZoneResolvers`: zone → its servers. */
  readonly zoneResolvers?: Readonly<Record<string, readonly Upstream[]>>;
  /** `Timeout` in milliseconds (0 = 5000). */
  readonly timeoutMs?: number;
  readonly setTruncateBit?: boolean;
  readonly allow?: AllowList;
  readonly cache?: ForwardCache;
  readonly metrics?: DnsMetrics;
}

export function mesosDnsZones(o: MesosDnsZonesOptions): Map<string, DnsHandler> {
  const externalOn = o.externalOn ?? true;
  const common = {
    externalOn,
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.setTruncateBit !== undefined ? { setTruncateBit: o.setTruncateBit } : {}),
    ...(o.allow ? { allow: o.allow } : {}),
    ...(o.cache ? { cache: o.cache } : {}),
    ...(o.metrics ? { metrics: o.metrics } : {}),
  };
  const zones = new Map<string, DnsHandler>([
    ['.', createMesosForwarder({ ...common, servers: o.resolvers })],
  ]);
  if (externalOn) {
    for (const [zone, servers] of Object.entries(o.zoneResolvers ?? {})) {
      zones.set(fqdn(zone), createMesosForwarder({ ...common, servers, zone: fqdn(zone) }));
    }
  }
  zones.set(o.responder.domain, o.responder.handler);
  return zones;
}
