// Forwarding against local fake upstreams on 127.0.0.1: Mesos-DNS sequential walk over the
// client's transport, REFUSED/SERVFAIL rules; dcos-dns parallel-2 with failure-count choice,
// timeout → SERVFAIL (QR set); the answer cache; the allow-list (never an open resolver).
// Forged replies: dns-poisoning.test.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import {
  AllowList,
  ForwardCache,
  MesosResponder,
  ZoneResponder,
  createDcosDnsRouter,
  createDcosForwarder,
  createMesosForwarder,
  dnsMetrics,
  mesosDnsZones,
  startDnsServer,
  type DnsHandler,
  type RunningDnsServer,
  type Upstream,
} from '../../src/dns/server/index.js';
import {
  decode,
  fakeUpstream,
  flagsOf,
  queryBytes,
  rcodeOf,
  tcpAsk,
  udpAsk,
  type Packet,
} from '../helpers/dns.js';

const servers: RunningDnsServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function serve(handler: DnsHandler, registry = new Registry()): Promise<number> {
  const s = await startDnsServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    zones: { '.': handler },
    registry,
  });
  servers.push(s);
  return s.ports[0]!;
}

const aRecord =
  (ip: string, ttl = 30) =>
  (q: Packet) => ({
    answers: [{ name: q.questions![0]!.name, type: 'A' as const, ttl, data: ip }],
  });
const loop = (port: number): Upstream => ({ host: '127.0.0.1', port });

test('Mesos-DNS forwarder: sequential walk, same transport, first success wins, SERVFAIL when all fail', async () => {
  const dead = await fakeUpstream(() => undefined);
  const live = await fakeUpstream(aRecord('192.0.2.1'));
  const registry = new Registry();
  const port = await serve(
    createMesosForwarder({
      servers: [loop(dead.port), loop(live.port)],
      timeoutMs: 300,
      metrics: dnsMetrics(registry),
    }),
    registry,
  );
  const t0 = Date.now();
  const r = decode(await udpAsk(port, queryBytes('www.example.com', 'A', { id: 11 })));
  const took = Date.now() - t0;
  assert.equal(r.id, 11);
  assert.equal(rcodeOf(r), 'NOERROR');
  assert.ok(took >= 280, `the dead server's timeout was waited for first (${took} ms)`);
  assert.deepEqual(
    dead.seen.map((s) => s.transport),
    ['udp'],
  );
  assert.deepEqual(
    live.seen.map((s) => [s.transport, s.name]),
    [['udp', 'www.example.com']],
  );
  assert.ok(live.seen[0]!.id !== 11 || dead.seen[0]!.id !== 11, 'fresh random IDs, not the client’s');
  const [t] = await tcpAsk(port, [queryBytes('tcp.example.com', 'A', { id: 12 })]);
  assert.equal(decode(t!).id, 12);
  assert.deepEqual(
    dead.seen.map((s) => s.transport),
    ['udp', 'tcp'],
  );
  assert.deepEqual(
    live.seen.map((s) => s.transport),
    ['udp', 'tcp'],
  );
  await live.close();
  const fail = decode(await udpAsk(port, queryBytes('gone.example.com', 'A', { id: 13 }), 3000));
  assert.equal(rcodeOf(fail), 'SERVFAIL');
  assert.deepEqual(flagsOf(fail), { aa: false, tc: false, rd: true, ra: false, qr: true });
  assert.match(await registry.getSingleMetricAsString('dcnet_dns_forwarder_failures_total'), /zone="\."\} 1/);
  assert.match(
    await registry.getSingleMetricAsString('dcnet_dns_upstream_failures_total'),
    /upstream="127\.0\.0\.1:\d+",protocol="udp",reason="timeout"\} 2/,
  );
});

test('Mesos-DNS forwarder: REFUSED with externalOn false or no servers; upstream TC relayed', async () => {
  const up = await fakeUpstream(aRecord('192.0.2.1'));
  const off = await serve(createMesosForwarder({ servers: [loop(up.port)], externalOn: false }));
  const r = decode(await udpAsk(off, queryBytes('www.example.com', 'A')));
  assert.equal(rcodeOf(r), 'REFUSED');
  assert.ok(!flagsOf(r).aa && !flagsOf(r).ra);
  assert.equal(up.seen.length, 0);
  const none = await serve(createMesosForwarder({ servers: [] }));
  assert.equal(rcodeOf(decode(await udpAsk(none, queryBytes('www.example.com', 'A')))), 'REFUSED');
  const tc = await fakeUpstream(() => ({ flags: 0x0200, answers: [] }));
  const relay = await serve(createMesosForwarder({ servers: [loop(tc.port)] }));
  assert.ok(flagsOf(decode(await udpAsk(relay, queryBytes('t.example.com', 'A')))).tc);
  const quiet = await serve(createMesosForwarder({ servers: [loop(tc.port)], setTruncateBit: false }));
  assert.ok(!flagsOf(decode(await udpAsk(quiet, queryBytes('t.example.com', 'A')))).tc);
});

test('dcos-dns forwarder: two upstreams in parallel, the first reply wins', async () => {
  const slow = await fakeUpstream(aRecord('192.0.2.2'), 1500);
  const fast = await fakeUpstream(aRecord('192.0.2.3'));
  const port = await serve(
    createDcosForwarder({ upstreams: [loop(slow.port), loop(fast.port)], timeoutMs: 2000 }),
  );
  const t0 = Date.now();
  const r = decode(await udpAsk(port, queryBytes('par.example.com', 'A')));
  assert.ok(Date.now() - t0 < 1200, 'did not wait for the slow one');
  assert.equal(String((r.answers![0] as { data: unknown }).data), '192.0.2.3');
  assert.equal(slow.seen.length, 1, 'both were asked');
  assert.equal(fast.seen.length, 1);
});

test('dcos-dns forwarder: upstreams with fewest failures are chosen; all silent → SERVFAIL (QR set) after the timeout', async () => {
  const bad = await fakeUpstream(() => undefined);
  const good1 = await fakeUpstream(aRecord('192.0.2.4'));
  const good2 = await fakeUpstream(aRecord('192.0.2.5'));
  const registry = new Registry();
  const metrics = dnsMetrics(registry);
  const port = await serve(
    createDcosForwarder({
      upstreams: [loop(bad.port), loop(good1.port), loop(good2.port)],
      timeoutMs: 250,
      metrics,
    }),
    registry,
  );
  for (let i = 0; i < 6; i++) await udpAsk(port, queryBytes(`n${i}.example.com`, 'A', { id: i }), 2000);
  await new Promise((r) => setTimeout(r, 350)); // let the silent one's attempts time out
  assert.ok(bad.seen.length >= 1, 'with no failures yet, the silent upstream was picked at random');
  assert.equal(metrics.upstreamFailuresOf(`127.0.0.1:${bad.port}`), bad.seen.length);
  // Now it is in a higher bucket; the two healthy ones form the lowest and are always chosen.
  const before = { bad: bad.seen.length, good: good1.seen.length + good2.seen.length };
  for (let i = 0; i < 10; i++) await udpAsk(port, queryBytes(`m${i}.example.com`, 'A', { id: i }), 2000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(bad.seen.length, before.bad);
  assert.equal(good1.seen.length + good2.seen.length, before.good + 20);
  const silent = await serve(createDcosForwarder({ upstreams: [loop(bad.port)], timeoutMs: 300 }));
  const t0 = Date.now();
  const raw = await udpAsk(silent, queryBytes('x.example.com', 'A', { id: 4321 }), 3000);
  const took = Date.now() - t0;
  const r = decode(raw);
  assert.equal(rcodeOf(r), 'SERVFAIL');
  assert.equal(r.type, 'response', 'deliberate: QR set (the original left it clear)');
  assert.equal(r.id, 4321);
  assert.ok(took >= 280 && took < 2000, `SERVFAIL after ${took} ms`);
});

test('cache: positive hit and negative hit are answered without asking the upstream again', async () => {
  let nx = 0;
  const up = await fakeUpstream((q) => {
    const name = q.questions![0]!.name;
    if (name.startsWith('nx')) {
      nx++;
      return {
        flags: 3,
        answers: [],
        authorities: [
          {
            name: 'example.com',
            type: 'SOA',
            ttl: 60,
            data: {
              mname: 'ns.example.com',
              rname: 'h.example.com',
              serial: 1,
              refresh: 1,
              retry: 1,
              expire: 1,
              minimum: 30,
            },
          },
        ],
      };
    }
    return aRecord('192.0.2.6', 60)(q);
  });
  const cache = new ForwardCache();
  const port = await serve(createDcosForwarder({ upstreams: [loop(up.port)], cache }));
  const first = decode(await udpAsk(port, queryBytes('c.example.com', 'A', { id: 1 })));
  const second = decode(await udpAsk(port, queryBytes('c.example.com', 'A', { id: 2 })));
  assert.equal(second.id, 2);
  assert.deepEqual(second.answers, first.answers);
  assert.equal(up.seen.filter((s) => s.name === 'c.example.com').length, 1);
  assert.equal(rcodeOf(decode(await udpAsk(port, queryBytes('nx.example.com', 'A')))), 'NXDOMAIN');
  assert.equal(rcodeOf(decode(await udpAsk(port, queryBytes('nx.example.com', 'A')))), 'NXDOMAIN');
  assert.equal(nx, 1);
  assert.deepEqual(cache.stats, { hits: 2, misses: 2, stored: 2 });
});

test('never an open resolver: clients outside the allow-list get REFUSED for forwarded names only', async () => {
  const up = await fakeUpstream(aRecord('192.0.2.7'));
  const zones = new ZoneResponder();
  zones.setZone('spartan', { a: new Map([['ready.spartan', ['127.0.0.1']]]) });
  const allow = new AllowList(['10.0.0.0/8']); // excludes 127.0.0.1, the test client
  const port = await serve(
    createDcosDnsRouter({
      zones,
      upstreams: [loop(up.port)],
      mesosResolvers: [loop(up.port)],
      allow,
      cache: false,
    }),
  );
  assert.equal(rcodeOf(decode(await udpAsk(port, queryBytes('www.example.com', 'A')))), 'REFUSED');
  assert.equal(rcodeOf(decode(await udpAsk(port, queryBytes('leader.mesos', 'A')))), 'REFUSED');
  assert.equal(
    rcodeOf(decode(await udpAsk(port, queryBytes('ready.spartan', 'A')))),
    'NOERROR',
    'local zones still answer',
  );
  assert.equal(up.seen.length, 0);
  const mport = await serve(createMesosForwarder({ servers: [loop(up.port)], allow }));
  assert.equal(rcodeOf(decode(await udpAsk(mport, queryBytes('www.example.com', 'A')))), 'REFUSED');
  assert.equal(up.seen.length, 0);
  // Allowed client: forwarded.
  const open = await serve(createDcosDnsRouter({ zones, upstreams: [loop(up.port)], cache: false }));
  assert.equal(rcodeOf(decode(await udpAsk(open, queryBytes('www.example.com', 'A')))), 'NOERROR');
  assert.equal(up.seen.length, 1);
});

test('router: .mesos to the Mesos-DNS resolvers, forward_zones to theirs, the rest upstream', async () => {
  const mesos = await fakeUpstream(aRecord('192.0.2.8'));
  const corp = await fakeUpstream(aRecord('192.0.2.9'));
  const up = await fakeUpstream(aRecord('192.0.2.10'));
  const port = await serve(
    createDcosDnsRouter({
      zones: new ZoneResponder(),
      mesosResolvers: () => [loop(mesos.port)],
      forwardZones: { 'corp.example': [loop(corp.port)] },
      upstreams: [loop(up.port)],
    }),
  );
  const ip = async (name: string) =>
    String((decode(await udpAsk(port, queryBytes(name, 'A'))).answers![0] as { data: unknown }).data);
  assert.equal(await ip('leader.mesos'), '192.0.2.8');
  assert.equal(await ip('www.corp.example'), '192.0.2.9');
  assert.equal(await ip('www.example.org'), '192.0.2.10');
  const [t] = await tcpAsk(port, [queryBytes('tcp.corp.example', 'A')]);
  assert.equal(rcodeOf(decode(t!)), 'NOERROR');
  assert.deepEqual(
    corp.seen.map((s) => s.transport),
    ['udp', 'tcp'],
  );
});

test('mesosDnsZones: the domain to the responder, ZoneResolvers by longest suffix, the rest to Resolvers', async () => {
  const def = await fakeUpstream(aRecord('192.0.2.11'));
  const corp = await fakeUpstream(aRecord('192.0.2.12'));
  const responder = new MesosResponder({ domain: 'mesos' });
  responder.setRecords(
    { a: new Map([['leader.mesos.', new Set(['192.0.2.1'])]]), aaaa: new Map(), srv: new Map() },
    1,
  );
  const zones = mesosDnsZones({
    responder,
    resolvers: [loop(def.port)],
    zoneResolvers: { 'corp.example': [loop(corp.port)] },
  });
  const s = await startDnsServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    zones,
    registry: new Registry(),
  });
  servers.push(s);
  const ip = async (name: string) =>
    String((decode(await udpAsk(s.ports[0]!, queryBytes(name, 'A'))).answers![0] as { data: unknown }).data);
  assert.equal(await ip('leader.mesos'), '192.0.2.1');
  assert.equal(await ip('a.corp.example'), '192.0.2.12');
  assert.equal(await ip('www.example.org'), '192.0.2.11');
  const off = await startDnsServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    zones: mesosDnsZones({
      responder,
      externalOn: false,
      resolvers: [loop(def.port)],
      zoneResolvers: { 'corp.example': [loop(corp.port)] },
    }),
    registry: new Registry(),
  });
  servers.push(off);
  assert.equal(rcodeOf(decode(await udpAsk(off.ports[0]!, queryBytes('a.corp.example', 'A')))), 'REFUSED');
  assert.equal(rcodeOf(decode(await udpAsk(off.ports[0]!, queryBytes('leader.mesos', 'A')))), 'NOERROR');
});
