// What `dcnet status` adds from the store beyond masters and agents: how many VIPs the masters
// publish and which DNS zones they publish for every node to serve. (Pool usage is the leader's
// own count, GET /overlay-master/pools.)
export interface StatusSummary {
  readonly vips: number;
  /** Zone origins under dns/zones/, sorted. */
  readonly dnsZones: readonly string[];
}

export function statusSummary(vips: number, zoneOrigins: readonly string[]): StatusSummary {
  return { vips, dnsZones: [...zoneOrigins].sort() };
}
