// The dcnet DNS server as a benchmark subject, in its own process: a ZoneResponder serving
// `count` names svcN.marathon.l4lb.thisdcos.directory (the same names the bench gives dnsmasq)
// behind the dcos-dns router. Usage: node dns-zone-server.js HOST COUNT. Prints {"port":N}.
import { Registry } from 'prom-client';
import { ZoneResponder, createDcosDnsRouter, startDnsServer } from '../../src/dns/server/index.js';
import { benchNames } from './dns-names.js';

const [host = '127.0.0.1', countText = '300'] = process.argv.slice(2);
const zones = new ZoneResponder();
const a = new Map<string, string[]>();
for (const [name, ip] of benchNames(Number(countText))) a.set(name, [ip]);
zones.setZone('l4lb.thisdcos.directory', { a });
zones.setZone('spartan', { a: new Map([['ready.spartan', ['127.0.0.1']]]) });
const s = await startDnsServer({
  listen: [{ host, port: 0 }],
  zones: { '.': createDcosDnsRouter({ zones, upstreams: [], cache: false }) },
  registry: new Registry(),
});
process.stdout.write(`${JSON.stringify({ port: s.ports[0] })}\n`);
process.on('SIGTERM', () => void s.close().then(() => process.exit(0)));
