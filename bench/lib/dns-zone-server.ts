// The dcnet DNS server as a benchmark subject, in its own process: a ZoneResponder serving
// `count` names svcN.marathon.l4lb.thisdcos.directory (the same names the bench gives dnsmasq)
// behind the dcos-dns router. Usage: node dns-zone-server.js HOST COUNT [WORKERS]; WORKERS 0
// (default) = one process, N = DcosDnsCluster with N workers. Prints {"port":N}.
import { Registry } from 'prom-client';
import {
  ZoneResponder,
  createDcosDnsRouter,
  startDcosDnsCluster,
  startDnsServer,
  type ZoneData,
} from '../../src/dns/server/index.js';
import { benchNames } from './dns-names.js';

const [host = '127.0.0.1', countText = '300', workersText = '0'] = process.argv.slice(2);
const a = new Map<string, string[]>();
for (const [name, ip] of benchNames(Number(countText))) a.set(name, [ip]);
const data: [string, ZoneData][] = [
  ['l4lb.thisdcos.directory', { a }],
  ['spartan', { a: new Map([['ready.spartan', ['127.0.0.1']]]) }],
];
const workers = Number(workersText);
let close: () => Promise<void>;
let port: number;
if (workers > 0) {
  const c = await startDcosDnsCluster({
    workers,
    listen: [{ host, port: 0 }],
    router: { upstreams: [], cacheEntries: 0 },
    registry: new Registry(),
  });
  for (const [origin, z] of data) c.setZone(origin, z);
  await new Promise((r) => setTimeout(r, 200)); // zone messages reach the workers
  port = c.boundPorts[0]!;
  close = () => c.close();
} else {
  const zones = new ZoneResponder();
  for (const [origin, z] of data) zones.setZone(origin, z);
  const s = await startDnsServer({
    listen: [{ host, port: 0 }],
    zones: { '.': createDcosDnsRouter({ zones, upstreams: [], cache: false }) },
    registry: new Registry(),
  });
  port = s.ports[0]!;
  close = () => s.close();
}
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.on('SIGTERM', () => void close().then(() => process.exit(0)));
