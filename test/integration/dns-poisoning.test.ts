// The forwarder against forged replies, on loopback only (127.0.0.2 and 127.0.0.3 are loopback
// addresses too): a reply spoofed from another address or port never reaches the forwarder (its
// socket is connected; the kernel refuses the datagram), a reply with the wrong ID, the wrong
// question or without QR is dropped and counted, the query keeps waiting for the real reply, and
// nothing forged is cached. Queries leave with fresh random IDs from rotating source ports.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Socket as TcpSocket } from 'node:net';
import dnsPacket from 'dns-packet';
import { Registry } from 'prom-client';
import {
  ForwardCache,
  UdpUpstream,
  createDcosForwarder,
  createMesosForwarder,
  dnsMetrics,
  startDnsServer,
  type DnsHandler,
  type RejectReason,
  type RunningDnsServer,
} from '../../src/dns/server/index.js';
import { decode, fakeUpstream, parsed, queryBytes, tcpAsk, udpAsk } from '../helpers/dns.js';

const servers: RunningDnsServer[] = [];
const sockets: UdpSocket[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const s of sockets) {
    try {
      s.close();
    } catch {
      /* closed */
    }
  }
});

async function serve(handler: DnsHandler, registry: Registry): Promise<number> {
  const s = await startDnsServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    zones: { '.': handler },
    registry,
  });
  servers.push(s);
  return s.ports[0]!;
}

async function udpOn(host: string, port = 0): Promise<UdpSocket> {
  const s = createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, host, () => {
      s.off('error', reject);
      resolve();
    });
  });
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function response(
  id: number,
  name: string,
  type: dnsPacket.RecordType,
  ip: string,
  o: { klass?: 'IN' | 'CH'; query?: boolean } = {},
): Buffer {
  return dnsPacket.encode({
    type: o.query ? 'query' : 'response',
    id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: [{ name, type, class: o.klass ?? 'IN' }],
    answers: [{ name, type: 'A', ttl: 300, data: ip }],
  });
}

const answerIp = (b: Buffer): string => String((decode(b).answers![0] as { data: unknown }).data);

/** Sends `msg` from a socket connected to `to`; resolves true when the kernel refused it (ICMP). */
async function refused(
  from: UdpSocket,
  to: { address: string; port: number },
  msg: Buffer,
): Promise<boolean> {
  await new Promise<void>((r) => from.connect(to.port, to.address, () => r()));
  const got = new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 500);
    from.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve(e.code === 'ECONNREFUSED');
    });
  });
  from.send(msg);
  return got;
}

test('UDP: replies spoofed from 127.0.0.2 or another port, with a wrong ID, question or no QR are dropped; the real one wins; nothing forged is cached', async () => {
  const up = await udpOn('127.0.0.3');
  const upPort = up.address().port;
  const spoofAddr = await udpOn('127.0.0.2', upPort); // same port, other loopback address
  const spoofPort = await udpOn('127.0.0.3'); // same address, other port
  const registry = new Registry();
  const metrics = dnsMetrics(registry);
  const seen: { name: string; id: number }[] = [];
  const kernelRefused: boolean[] = [];
  up.on('message', (m, rinfo) => {
    const q = decode(m);
    const id = q.id!;
    const name = q.questions![0]!.name;
    seen.push({ name, id });
    if (name !== 'www.example.com') {
      up.send(response(id, name, 'A', '192.0.2.2'), rinfo.port, rinfo.address);
      return;
    }
    void (async () => {
      const forged = response(id, name, 'A', '203.0.113.66');
      kernelRefused.push(await refused(spoofAddr, rinfo, forged));
      kernelRefused.push(await refused(spoofPort, rinfo, forged));
      const send = (b: Buffer) => up.send(b, rinfo.port, rinfo.address);
      send(response(id ^ 0x8001, name, 'A', '203.0.113.67')); // wrong ID
      send(response(id, 'evil.example.com', 'A', '203.0.113.68')); // wrong name
      send(response(id, name, 'AAAA', '203.0.113.69')); // wrong type
      send(response(id, name, 'A', '203.0.113.70', { klass: 'CH' })); // wrong class
      send(response(id, name, 'A', '203.0.113.71', { query: true })); // not a response
      await sleep(50);
      send(response(id, 'WWW.Example.COM', 'A', '192.0.2.1')); // the real one (0x20-style case)
    })();
  });
  const cache = new ForwardCache();
  const port = await serve(
    createDcosForwarder({
      upstreams: [{ host: '127.0.0.3', port: upPort }],
      timeoutMs: 3000,
      cache,
      metrics,
      sockets: { socketsPerUpstream: 1 },
    }),
    registry,
  );
  const r = await udpAsk(port, queryBytes('www.example.com', 'A', { id: 1234 }), 4000);
  assert.equal(decode(r).id, 1234, 'the client gets its own ID back');
  assert.equal(answerIp(r), '192.0.2.1', 'the real reply, not a forged one');
  assert.deepEqual(kernelRefused, [true, true], 'the kernel refused both spoofed datagrams (ICMP)');
  assert.equal(metrics.forwardRejectedOf('id'), 1);
  assert.equal(metrics.forwardRejectedOf('question'), 3);
  assert.equal(metrics.forwardRejectedOf('malformed'), 1);
  assert.equal(metrics.forwardRejectedOf('source'), 0, 'never reached the process');
  const text = await registry.getSingleMetricAsString('dcnet_dns_forward_rejected_total');
  assert.match(text, /reason="question"\} 3/);
  assert.match(text, /reason="id"\} 1/);
  // The cache holds only the accepted answer; the forged names were never stored.
  assert.equal(answerIp(await udpAsk(port, queryBytes('www.example.com', 'A', { id: 5 }))), '192.0.2.1');
  assert.equal(seen.filter((s) => s.name === 'www.example.com').length, 1, 'second ask was a cache hit');
  assert.equal(answerIp(await udpAsk(port, queryBytes('evil.example.com', 'A'))), '192.0.2.2');
  assert.equal(seen.filter((s) => s.name === 'evil.example.com').length, 1, 'asked upstream, not cached');
  assert.equal(cache.stats.stored, 2);
});

test('TCP: frames with a wrong ID or question are dropped and counted; the matching frame is the answer', async () => {
  const registry = new Registry();
  const metrics = dnsMetrics(registry);
  const conns = new Set<TcpSocket>();
  const srv = createServer((s) => {
    conns.add(s);
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    s.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const q = decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      const frame = (b: Buffer) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
      const name = q.questions![0]!.name;
      s.write(
        Buffer.concat([
          frame(response(q.id! ^ 0x0100, name, 'A', '203.0.113.1')),
          frame(response(q.id!, 'other.example.com', 'A', '203.0.113.2')),
          frame(response(q.id!, name, 'A', '192.0.2.9')),
        ]),
      );
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.3', r));
  after(() => {
    for (const c of conns) c.destroy();
    srv.close();
  });
  const upPort = (srv.address() as { port: number }).port;
  const port = await serve(
    createMesosForwarder({ servers: [{ host: '127.0.0.3', port: upPort }], timeoutMs: 2000, metrics }),
    registry,
  );
  const [r] = await tcpAsk(port, [queryBytes('t.example.com', 'A', { id: 77 })]);
  assert.equal(decode(r!).id, 77);
  assert.equal(answerIp(r!), '192.0.2.9');
  assert.equal(metrics.forwardRejectedOf('id'), 1);
  assert.equal(metrics.forwardRejectedOf('question'), 1);
});

test('UDP upstream sockets: a fresh random ID per query, source ports rotate, late replies are told apart, idle sockets close', async () => {
  const up = await fakeUpstream((q) => ({
    answers: [{ name: q.questions![0]!.name, type: 'A', ttl: 5, data: '192.0.2.3' }],
  }));
  const rejects: RejectReason[] = [];
  const u = new UdpUpstream(
    { host: '127.0.0.1', port: up.port },
    { socketsPerUpstream: 2, queriesPerSocket: 10, idleMs: 200, onReject: (r) => rejects.push(r) },
  );
  const q = queryBytes('rot.example.com', 'A', { id: 4242 });
  const question = parsed(q).question;
  for (let i = 0; i < 100; i++) {
    const r = await u.query(q, question, 1000);
    assert.equal(r.readUInt16BE(0), 4242);
  }
  const ids = new Set(up.seen.map((s) => s.id));
  assert.ok(ids.size >= 95, `IDs are random, not the client's (${ids.size} distinct of 100)`);
  assert.ok(up.seen.filter((s) => s.id === 4242).length <= 1);
  const ports = new Set(up.seen.map((s) => s.port));
  assert.ok(ports.size >= 9, `source ports rotate (${ports.size} distinct)`);
  assert.ok(u.sockets <= 2, `at most the pool stays open (${u.sockets})`);
  // Concurrent queries for different names: each gets its own reply.
  const names = Array.from({ length: 30 }, (_, i) => `c${i}.example.com`);
  const replies = await Promise.all(
    names.map((n, i) => {
      const b = queryBytes(n, 'A', { id: i });
      return u.query(b, parsed(b).question, 1000);
    }),
  );
  replies.forEach((r, i) => {
    assert.equal(r.readUInt16BE(0), i);
    assert.equal(decode(r).questions![0]!.name, names[i]);
  });
  assert.equal(rejects.length, 0, rejects.join());
  await sleep(500);
  assert.equal(u.sockets, 0, 'idle sockets closed');
  // A reply after the query's timeout is "late", not forged.
  const slow = await fakeUpstream(
    (qq) => ({ answers: [{ name: qq.questions![0]!.name, type: 'A', ttl: 5, data: '192.0.2.4' }] }),
    250,
  );
  const v = new UdpUpstream({ host: '127.0.0.1', port: slow.port }, { onReject: (r) => rejects.push(r) });
  await assert.rejects(v.query(q, question, 100), /within 100 ms/);
  await sleep(300);
  assert.deepEqual(rejects, ['late']);
  v.close();
});
