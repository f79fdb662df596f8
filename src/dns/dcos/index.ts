export * from './zones.js';
export * from './store-format.js';
export { ZonePublisher, type ZonePublisherOptions } from './publisher.js';
export { NodeZones, type NodeZonesOptions, type ZoneSink } from './node-zones.js';
export { MasterZones, type MasterZonesOptions } from './master-zones.js';
export { registerDcosDnsRoutes, type ZoneView } from './http-api.js';
export {
  startNodeDns,
  ensureSpartanAddress,
  NODE_DNS_CLIENT_QPS,
  type NodeDns,
  type NodeDnsOptions,
} from './node-dns.js';
export * from './resolv-conf.js';
export { ResolvConfWatchdog, type ResolvConfWatchdogOptions } from './resolv-watchdog.js';
