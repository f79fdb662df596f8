// One worker process of DcosDnsCluster: builds its ZoneResponder and dcos-dns router from the
// JSON in DCNET_DNS_WORKER, applies the zone changes the primary sends, serves on the shared
// listeners and reports its counters every second.
import { Registry } from 'prom-client';
import { AllowList } from './access.js';
import { fromWire, type FromWorker, type ToWorker, type WorkerInit } from './cluster.js';
import { ForwardCache } from './forward.js';
import { dnsMetrics } from './metrics.js';
import { createDcosDnsRouter } from './router.js';
import { DnsServer } from './server.js';
import type { Upstream } from './types.js';
import { ZoneResponder } from './zone-responder.js';

const send = (m: FromWorker): void => {
  if (process.connected) process.send!(m);
};

const init = JSON.parse(process.env.DCNET_DNS_WORKER ?? '{}') as WorkerInit;
const zones = new ZoneResponder(init.loadBalance ? { loadBalance: init.loadBalance } : {});
let mesosResolvers: readonly Upstream[] = init.router.mesosResolvers ?? [];
let go!: () => void;
const started = new Promise<void>((resolve) => (go = resolve));
process.on('message', (m: ToWorker) => {
  try {
    if (m.op === 'start') go();
    else if (m.op === 'setZone') zones.setZone(m.origin, fromWire(m.data));
    else if (m.op === 'deleteZone') zones.deleteZone(m.origin);
    else if (m.op === 'setMesosResolvers') mesosResolvers = m.list;
  } catch {
    // The primary validated the change already; nothing sensible to do with a failure here.
  }
});
const metrics = dnsMetrics(new Registry());
const r = init.router;
const cacheEntries = r.cacheEntries ?? 10_000;
const router = createDcosDnsRouter({
  zones,
  metrics,
  mesosResolvers: () => mesosResolvers,
  cache: cacheEntries > 0 ? new ForwardCache({ maxEntries: cacheEntries }) : false,
  ...(r.clusterId ? { clusterId: r.clusterId } : {}),
  ...(r.forwardZones ? { forwardZones: r.forwardZones } : {}),
  ...(r.upstreams ? { upstreams: r.upstreams } : {}),
  ...(r.timeoutMs ? { timeoutMs: r.timeoutMs } : {}),
  ...(r.allow ? { allow: new AllowList(r.allow) } : {}),
});
const server = new DnsServer({
  listen: init.listen,
  zones: { '.': router },
  metrics,
  ...(init.maxConcurrent ? { maxConcurrent: init.maxConcurrent } : {}),
  ...(init.tcpIdleMs ? { tcpIdleMs: init.tcpIdleMs } : {}),
  ...(init.tcpMessageMs ? { tcpMessageMs: init.tcpMessageMs } : {}),
  ...(init.clientRateLimit ? { clientRateLimit: init.clientRateLimit } : {}),
  ...(init.maxUdpPayload ? { maxUdpPayload: init.maxUdpPayload } : {}),
});
send({ op: 'hello' });
await started;
try {
  await server.start();
  send({ op: 'ready', ports: server.addresses().map((a) => a.port) });
} catch (e) {
  send({ op: 'failed', error: (e as Error).message });
  process.exit(1);
}
const timer = setInterval(() => send({ op: 'metrics', delta: metrics.drain() }), 1000);
timer.unref();
process.on('SIGTERM', () => {
  clearInterval(timer);
  send({ op: 'metrics', delta: metrics.drain() });
  void server.close().then(() => process.exit(0));
});
process.on('disconnect', () => void server.close().then(() => process.exit(0)));
