// The DNS server on real sockets (127.0.0.1, port 0): the Mesos-DNS role (responder + forwarder)
// and the dcos-dns role (router + zones) asked with dig and raw UDP/TCP; truncation with dig's TCP
// retry; TCP framing, pipelining and idle timeout; the forwarding cap; bad packets; metrics.
// Floods, TCP deadlines and rate limits: dns-overload.test.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Registry } from 'prom-client';
import { parseMesosState } from '../../src/cluster/index.js';
import { generateRecords } from '../../src/dns/mesos/index.js';
import {
  AllowList,
  MesosResponder,
  ZoneResponder,
  createDcosDnsRouter,
  createMesosForwarder,
  startDnsServer,
  type DnsHandler,
  type RunningDnsServer,
  type Upstream,
} from '../../src/dns/server/index.js';
import { fixture } from '../helpers/fixtures.js';
import { decode, dig, fakeUpstream, flagsOf, queryBytes, rcodeOf, tcpAsk, udpAsk } from '../helpers/dns.js';

const servers: RunningDnsServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function mesosDnsServer(registry = new Registry()) {
  const up = await fakeUpstream((q) => ({
    answers:
      q.questions?.[0]?.name === 'google.com'
        ? [
            { name: 'google.com', type: 'A', ttl: 30, data: '192.0.2.77' },
            { name: 'google.com', type: 'A', ttl: 30, data: '192.0.2.78' },
          ]
        : [],
  }));
  const doc = JSON.parse(fixture('mesos-dns/fake.json')) as Record<string, unknown>;
  const rs = generateRecords(
    parseMesosState(doc),
    {
      domain: 'mesos',
      soaMname: 'ns1.mesos.',
      listenerAddrs: ['127.0.0.1'],
      spec: 'rfc952',
      ipSources: ['netinfo', 'docker', 'mesos', 'host'],
      masters: ['144.76.157.37:5050'],
    },
    () => [],
  );
  const responder = new MesosResponder({ domain: 'mesos', recurseOn: false });
  responder.setRecords(rs, 0);
  const s = await startDnsServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    zones: {
      'mesos.': responder.handler,
      '.': createMesosForwarder({ servers: [{ host: '127.0.0.1', port: up.port }], timeoutMs: 1000 }),
    },
    registry,
  });
  servers.push(s);
  return { s, port: s.ports[0]!, up, registry };
}

test('Mesos-DNS role over UDP and TCP with dig: transcripts, forwarded google.com, port 0 shared', async () => {
  const { port, registry } = await mesosDnsServer();
  const a = await dig(port, ['leader.mesos', 'A', '+norec']);
  assert.match(a, /status: NOERROR/);
  assert.match(a, /flags: qr aa;/);
  assert.match(a, /leader\.mesos\.\s+60\s+IN\s+A\s+1\.2\.3\.4/);
  const tcp = await dig(port, ['+tcp', 'nothere.mesos', 'ANY']);
  assert.match(tcp, /status: NXDOMAIN/);
  assert.match(tcp, /AUTHORITY: 3/);
  const srv = await dig(port, ['_liquor-store._tcp.marathon.mesos', 'SRV']);
  assert.match(srv, /ANSWER: 4, AUTHORITY: 0, ADDITIONAL: 3/); // 2 A + our OPT echo (dig sends EDNS)
  const g = decode(await udpAsk(port, queryBytes('google.com', 'A', { id: 99 })));
  assert.equal(rcodeOf(g), 'NOERROR');
  assert.ok(!flagsOf(g).aa);
  assert.deepEqual(g.answers?.map((x) => String((x as { data: unknown }).data)).sort(), [
    '192.0.2.77',
    '192.0.2.78',
  ]);
  const metrics = await registry.getSingleMetricAsString('dcnet_dns_requests_total');
  assert.match(metrics, /dcnet_dns_requests_total\{zone="mesos\.",rcode="NOERROR"\} 2/);
  assert.match(metrics, /dcnet_dns_requests_total\{zone="\.",rcode="NOERROR"\} 1/);
});

function dcosZones(): ZoneResponder {
  const z = new ZoneResponder();
  z.setZone('spartan', {
    a: new Map([
      ['ready.spartan', ['127.0.0.1']],
      ['ns.spartan', ['198.51.100.1']],
    ]),
  });
  z.setZone('big.thisdcos.directory', {
    a: new Map([['many.big.thisdcos.directory', Array.from({ length: 128 }, (_, i) => `10.1.0.${i + 1}`)]]),
  });
  return z;
}

async function dcosServer(
  extra: {
    handler?: DnsHandler;
    maxConcurrent?: number;
    tcpIdleMs?: number;
    upstreams?: Upstream[];
    timeoutMs?: number;
  } = {},
) {
  const registry = new Registry();
  const zones = dcosZones();
  const s = await startDnsServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    zones: {
      '.': createDcosDnsRouter({
        zones,
        upstreams: extra.upstreams ?? [],
        allow: new AllowList(['127.0.0.0/8']),
        ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}),
      }),
      ...(extra.handler ? { 'slow.test.': extra.handler } : {}),
    },
    registry,
    ...(extra.maxConcurrent ? { maxConcurrent: extra.maxConcurrent } : {}),
    ...(extra.tcpIdleMs ? { tcpIdleMs: extra.tcpIdleMs } : {}),
  });
  servers.push(s);
  return { s, port: s.ports[0]!, registry, zones };
}

test('dcos-dns role with dig: 128 A truncated over UDP, complete after dig retries over TCP', async () => {
  const { port, registry } = await dcosServer();
  const out = await dig(port, ['many.big.thisdcos.directory', 'A', '+noedns']);
  assert.match(out, /Truncated, retrying in TCP mode/);
  assert.match(out, /ANSWER: 128,/);
  assert.equal((out.match(/IN\s+A\s+10\.1\.0\./g) ?? []).length, 128);
  const ignore = await dig(port, ['many.big.thisdcos.directory', 'A', '+noedns', '+ignore']);
  assert.match(ignore, /flags: qr aa tc rd;/);
  const edns = await dig(port, ['many.big.thisdcos.directory', 'A', '+bufsize=4096', '+ignore']);
  assert.match(edns, /ANSWER: 128,/);
  assert.doesNotMatch(edns, /flags: qr tc/);
  const any = await dig(port, ['ready.spartan', 'ANY', '+norec']);
  assert.match(any, /ready\.spartan\.\s+5\s+IN\s+A\s+127\.0\.0\.1/);
  assert.match(any, /flags: qr aa;/, 'RA=0 on internal answers');
  assert.match(await dig(port, ['foo.unknownzone.thisdcos.directory']), /status: REFUSED/);
  assert.match(await dig(port, ['nope.spartan']), /status: NXDOMAIN/);
  assert.match(await dig(port, ['leader.mesos']), /status: SERVFAIL/);
  const m = await registry.getSingleMetricAsString('dcnet_dns_requests_total');
  assert.match(
    m,
    /zone="big\.thisdcos\.directory\.",rcode="NOERROR"\} 4/,
    'UDP + TCP retry + 2 with +ignore',
  );
  assert.match(m, /zone="unknown\.",rcode="REFUSED"\} 1/, 'query-made zone names share one label');
  assert.match(m, /zone="mesos\.",rcode="SERVFAIL"\} 1/);
  // The router was given no metrics of its own: its failures land in the server's registry.
  assert.match(
    await registry.getSingleMetricAsString('dcnet_dns_forwarder_failures_total'),
    /zone="mesos\."\} 1/,
  );
});

test('TCP: several queries on one connection, split and coalesced frames; idle connections are closed', async () => {
  const { port } = await dcosServer({ tcpIdleMs: 300 });
  const qs = [1, 2, 3, 4, 5].map((id) => queryBytes('ready.spartan', 'A', { id }));
  const replies = await tcpAsk(port, qs);
  assert.deepEqual(replies.map((r) => decode(r).id).sort(), [1, 2, 3, 4, 5]);
  // One query written a byte at a time.
  const sock = connect({ host: '127.0.0.1', port });
  await new Promise((r) => sock.once('connect', r));
  const q = queryBytes('ready.spartan', 'A', { id: 77 });
  const framed = Buffer.concat([Buffer.from([0, q.length]), q]);
  const got = new Promise<Buffer>((resolve) => sock.once('data', resolve));
  for (const byte of framed) {
    sock.write(Buffer.from([byte]));
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(decode((await got).subarray(2)).id, 77);
  const t0 = Date.now();
  await new Promise((r) => sock.once('close', r));
  const idle = Date.now() - t0;
  assert.ok(idle >= 200 && idle < 3000, `closed after ${idle} ms of idleness`);
});

test('forwarding cap: over it UDP queries are dropped and TCP connections closed, and counted; local names still answer', async () => {
  const dead = await fakeUpstream(() => undefined, 0, '127.0.0.3');
  const { port, s, registry } = await dcosServer({
    maxConcurrent: 4,
    upstreams: [{ host: '127.0.0.3', port: dead.port }],
    timeoutMs: 800,
  });
  const pending = Array.from({ length: 10 }, (_, i) =>
    udpAsk(port, queryBytes(`x${i}.example.com`, 'A', { id: i }), 1500).then(
      (r) => rcodeOf(decode(r)),
      () => 'dropped',
    ),
  );
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(s.server.forwarding, 4);
  const closed = await new Promise<string>((resolve) => {
    const c = connect({ host: '127.0.0.1', port }, () => {
      const q = queryBytes('y.example.com', 'A');
      c.write(Buffer.concat([Buffer.from([0, q.length]), q]));
    });
    c.on('close', () => resolve('closed'));
    c.on('data', () => resolve('answered'));
  });
  assert.equal(closed, 'closed');
  // Every slot is taken, yet the local zones answer (UDP and TCP).
  assert.equal(rcodeOf(decode(await udpAsk(port, queryBytes('ready.spartan', 'A'), 500))), 'NOERROR');
  const [t] = await tcpAsk(port, [queryBytes('ready.spartan', 'A')], 500);
  assert.equal(rcodeOf(decode(t!)), 'NOERROR');
  const outcomes = await Promise.all(pending);
  assert.equal(outcomes.filter((o) => o === 'SERVFAIL').length, 4, outcomes.join());
  assert.equal(outcomes.filter((o) => o === 'dropped').length, 6, outcomes.join());
  assert.match(await registry.getSingleMetricAsString('dcnet_dns_dropped_total'), /reason="overload"\} 7/);
  assert.equal(s.server.forwarding, 0, 'every slot given back');
});

test('bad packets: FORMERR when the header is readable, silence otherwise; counted', async () => {
  const { port, s, registry } = await dcosServer();
  const good = queryBytes('ready.spartan', 'A', { id: 0x1234 });
  const cut = good.subarray(0, good.length - 3);
  const r = decode(await udpAsk(port, cut));
  assert.equal(r.id, 0x1234);
  assert.equal(rcodeOf(r), 'FORMERR');
  const loop = Buffer.from(good);
  loop.writeUInt16BE(0xc00c, 12); // pointer to itself
  assert.equal(rcodeOf(decode(await udpAsk(port, loop))), 'FORMERR');
  await assert.rejects(udpAsk(port, Buffer.from([1, 2, 3]), 300), /timeout/);
  const notimp = Buffer.from(good);
  notimp.writeUInt16BE(0x2800, 2); // opcode UPDATE
  assert.equal(rcodeOf(decode(await udpAsk(port, notimp))), 'NOTIMP');
  const badvers = queryBytes('ready.spartan', 'A', { edns: 1232 });
  badvers[badvers.length - 5] = 1; // OPT version 1
  const bv = await udpAsk(port, badvers);
  assert.equal(bv.readUInt16BE(10), 1);
  assert.equal(bv[bv.length - 6], 1, 'extended rcode BADVERS');
  assert.equal(s.server.metrics.totals.malformed, 3, 'two FORMERR, one dropped');
  assert.match(await registry.getSingleMetricAsString('dcnet_dns_dropped_total'), /reason="malformed"\} 1/);
  assert.equal(rcodeOf(decode(await udpAsk(port, good))), 'NOERROR');
});

test('closing the server while a handler is still running does not throw later', async () => {
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  const late: DnsHandler = (bytes) =>
    new Promise((resolve) => {
      started();
      setTimeout(() => resolve(Buffer.from(bytes)), 150);
    });
  const s = await startDnsServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    zones: { '.': late },
    registry: new Registry(),
  });
  void udpAsk(s.ports[0]!, queryBytes('x.example.com', 'A'), 500).catch(() => undefined);
  void tcpAsk(s.ports[0]!, [queryBytes('y.example.com', 'A')], 500).catch(() => undefined);
  await running;
  await s.close();
  await new Promise((r) => setTimeout(r, 300));
});

test('listens on IPv6 loopback too, UDP and TCP on the same port', async () => {
  const zones = dcosZones();
  const s = await startDnsServer({
    listen: [
      { host: '127.0.0.1', port: 0 },
      { host: '::1', port: 0 },
    ],
    zones: { '.': zones.handler },
    registry: new Registry(),
  });
  servers.push(s);
  assert.equal(s.addresses.length, 2);
  const out = await dig(s.ports[1]!, ['ready.spartan', 'A', '+tcp'], '::1');
  assert.match(out, /127\.0\.0\.1/);
  const r = decode(await udpAsk(s.ports[1]!, queryBytes('ready.spartan', 'A'), 2000, '::1'));
  assert.equal(rcodeOf(r), 'NOERROR');
});
