// The DNS wire engine: listeners, responders, router and forwarders that the Mesos-DNS and
// dcos-dns roles plug their record sets into.
//
//   startDnsServer({ listen: [{ host, port }], zones: { 'mesos.': h1, '.': h2 }, registry,
//     maxConcurrent, tcpMessageMs, clientRateLimit: { qps, burst, exempt } })
//     → { server, ports, addresses, close() }      UDP+TCP per address, port 0 = pick one (same
//       for UDP and TCP). Dispatch by the longest zone suffix of the first question.
//       maxConcurrent = forwarding slots (ctx.forwardLimit); local answers never wait for one.
//   DnsHandler = (bytes, query: DnsQuery, ctx: { transport, remoteAddress, remotePort,
//     maxUdpSize, zone }) => Buffer | undefined | Promise<…>      (zone = metric label, settable)
//
//   new MesosResponder({ domain, soaMname, soaRname, soaRefresh, soaRetry, soaExpire, ttl,
//     srvWeight, recurseOn, setTruncateBit, honourEdns? }) .setRecords(recordSet, serial) .handler
//       Mesos-DNS §3.2–3.8 behaviour; EDNS0 honoured (dcnet extension, see the file header).
//   new ZoneResponder({ loadBalance? }) .setZone(origin, { a, aaaa, srv, cname }) .deleteZone(origin)
//     .handler / .answer(q, ctx)        dcos-dns internal zones (§1.4/§1.5 constants).
//   createDcosDnsRouter({ zones, clusterId, mesosResolvers, forwardZones, upstreams, allow, cache })
//       → handler for `.` on a dcos-dns node (aliases, .mesos, local zones, forward zones, upstreams).
//   createMesosForwarder({ servers, timeoutMs, externalOn, allow, cache })  Mesos-DNS §3.9.
//   mesosDnsZones({ responder, externalOn, resolvers, zoneResolvers, timeoutMs }) → the zones
//     table of a Mesos-DNS server (domain, ZoneResolvers zones, `.`), for startDnsServer.
//   createDcosForwarder({ upstreams, timeoutMs, allow, cache, limit })     dcos-dns §1.3.
//     Both forwarders: fresh random IDs, connected rotating UDP sockets, replies checked on
//     source/ID/question (UpstreamPool, UdpUpstream, exchangeTcp, sameQuestion in upstream.ts).
//   new InFlightLimit(n), new ClientRateLimit({ qps, burst, maxClients, exempt }) (limits.ts).
//   new ForwardCache({ maxEntries, maxTtl, maxNegativeTtl })   positive + negative answer cache.
//   new AllowList(cidrs = DEFAULT_FORWARD_ALLOW)     who may have names forwarded (else REFUSED).
//   upstreamsFromResolvConf(text, ownAddresses?) / parseUpstream('ip[:port]')
//   startDcosDnsCluster({ workers, listen, router: { clusterId, mesosResolvers, forwardZones,
//     upstreams, allow, cacheEntries }, registry }) → .setZone / .deleteZone / .setMesosResolvers /
//     .close(): the dcos-dns server in N processes sharing the sockets (node:cluster).
//   dnsMetrics(registry) → counters dcnet_dns_requests_total{zone,rcode}, _dropped_total{reason},
//     _forwarder_failures_total{zone}, _upstream_failures_total{upstream,protocol,reason},
//     _forward_rejected_total{reason}.
export * from './types.js';
export * from './wire.js';
export * from './metrics.js';
export * from './access.js';
export * from './limits.js';
export * from './upstream.js';
export * from './forward.js';
export * from './mesos-responder.js';
export * from './mesos-dns.js';
export * from './zone-responder.js';
export * from './router.js';
export * from './server.js';
export * from './cluster.js';
