// A DNS server in its own process for the fuzz test: dcos-dns router (no upstreams) with a few
// zones, and the Mesos responder on `mesos.`. Prints {"port":N} when ready; on SIGTERM prints the
// server's totals as one JSON line and exits 0.
import { Registry } from 'prom-client';
import {
  MesosResponder,
  ZoneResponder,
  createDcosDnsRouter,
  startDnsServer,
} from '../../src/dns/server/index.js';

const zones = new ZoneResponder();
zones.setZone('spartan', { a: new Map([['ready.spartan', ['127.0.0.1']]]) });
zones.setZone('l4lb.thisdcos.directory', {
  a: new Map(
    Array.from({ length: 50 }, (_, i) => [`svc${i}.marathon.l4lb.thisdcos.directory`, [`10.0.0.${i + 1}`]]),
  ),
  cname: new Map([['alias.l4lb.thisdcos.directory', 'svc1.marathon.l4lb.thisdcos.directory']]),
});
const mesos = new MesosResponder({ domain: 'mesos' });
mesos.setRecords(
  {
    a: new Map([['leader.mesos.', new Set(['192.0.2.1'])]]),
    aaaa: new Map(),
    srv: new Map([['_leader._tcp.mesos.', new Set(['leader.mesos.:5050'])]]),
  },
  1,
);
const s = await startDnsServer({
  listen: [{ host: '127.0.0.1', port: 0 }],
  zones: { 'mesos.': mesos.handler, '.': createDcosDnsRouter({ zones, upstreams: [], cache: false }) },
  registry: new Registry(),
});
process.stdout.write(`${JSON.stringify({ port: s.ports[0] })}\n`);
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify(s.server.metrics.totals)}\n`);
  void s.close().then(() => process.exit(0));
});
