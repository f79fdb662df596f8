// The node-local DNS under overload, on loopback only (the dead upstream is a silent fake on
// 127.0.0.3): a flood of outside names fills every forwarding slot, yet the local zones, the
// `.mesos` mirror, ready.spartan and `.mesos` itself answer at once; a TCP client trickling bytes
// loses its connection at the message deadline.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect, type Socket as TcpSocket } from 'node:net';
import { Registry } from 'prom-client';
import {
  AllowList,
  ZoneResponder,
  createDcosDnsRouter,
  startDnsServer,
  type DnsServerOptions,
  type RunningDnsServer,
  type Upstream,
} from '../../src/dns/server/index.js';
import { decode, dig, fakeUpstream, queryBytes, rcodeOf, tcpAsk, udpAsk } from '../helpers/dns.js';

const servers: RunningDnsServer[] = [];
const conns: TcpSocket[] = [];
after(async () => {
  for (const c of conns) c.destroy();
  for (const s of servers) await s.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function nodeZones(): ZoneResponder {
  const z = new ZoneResponder();
  z.setZone('spartan', { a: new Map([['ready.spartan', ['127.0.0.1']]]) });
  z.setZone('mesos.thisdcos.directory', {
    a: new Map([['leader.mesos.thisdcos.directory', ['192.0.2.5']]]),
  });
  z.setZone('l4lb.thisdcos.directory', {
    a: new Map([['web.marathon.l4lb.thisdcos.directory', ['192.0.2.6']]]),
  });
  return z;
}

async function nodeDns(
  o: { upstreams?: Upstream[]; mesos?: Upstream[] } & Partial<DnsServerOptions> = {},
): Promise<{ port: number; s: RunningDnsServer; registry: Registry }> {
  const registry = new Registry();
  const { upstreams, mesos, ...server } = o;
  const s = await startDnsServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    zones: {
      '.': createDcosDnsRouter({
        zones: nodeZones(),
        upstreams: upstreams ?? [],
        mesosResolvers: mesos ?? [],
        allow: new AllowList(['127.0.0.0/8']),
        timeoutMs: 3000,
        cache: false,
      }),
    },
    registry,
    ...server,
  });
  servers.push(s);
  return { port: s.ports[0]!, s, registry };
}

const ip = (b: Buffer): string => String((decode(b).answers![0] as { data: unknown }).data);

test('local zones, the .mesos mirror, ready.spartan and .mesos answer in < 100 ms while a flood of outside names holds every slot of a dead upstream', async () => {
  const dead = await fakeUpstream(() => undefined, 0, '127.0.0.3');
  const mesos = await fakeUpstream((q) => ({
    answers: [{ name: q.questions![0]!.name, type: 'A', ttl: 30, data: '192.0.2.8' }],
  }));
  const { port, s, registry } = await nodeDns({
    upstreams: [{ host: '127.0.0.3', port: dead.port }],
    mesos: [{ host: '127.0.0.1', port: mesos.port }],
  });
  // The flood: distinct outside names (no cache could help), from a client of its own.
  const flooder = createSocket('udp4');
  await new Promise<void>((r) => flooder.bind(0, '127.0.0.4', r));
  let n = 0;
  const burst = (count: number): void => {
    for (let i = 0; i < count; i++) flooder.send(queryBytes(`f${n++}.flood.example`, 'A'), port, '127.0.0.1');
  };
  for (let i = 0; i < 6; i++) {
    burst(250);
    await sleep(5);
  }
  for (let i = 0; i < 100 && s.server.forwarding < 1024; i++) await sleep(20);
  assert.equal(s.server.forwarding, 1024, 'every forwarding slot is held by the dead upstream');
  // Keep flooding while the node's own names are asked.
  const keepOn = setInterval(() => burst(50), 10);
  try {
    const timed = async (name: string): Promise<{ ms: number; ip: string }> => {
      const t0 = performance.now();
      const r = await udpAsk(port, queryBytes(name, 'A'), 1000);
      return { ms: performance.now() - t0, ip: ip(r) };
    };
    for (const [name, want] of [
      ['ready.spartan', '127.0.0.1'],
      ['leader.mesos.thisdcos.directory', '192.0.2.5'],
      ['web.marathon.l4lb.thisdcos.directory', '192.0.2.6'],
      ['leader.mesos', '192.0.2.8'],
    ] as const) {
      const r = await timed(name);
      assert.equal(r.ip, want, name);
      assert.ok(r.ms < 100, `${name} answered in ${r.ms.toFixed(1)} ms`);
    }
    const t0 = performance.now();
    const [t] = await tcpAsk(port, [queryBytes('ready.spartan', 'A')], 1000);
    assert.equal(rcodeOf(decode(t!)), 'NOERROR');
    assert.ok(performance.now() - t0 < 100, 'over TCP too');
    const out = await dig(port, ['leader.mesos.thisdcos.directory', 'A']);
    assert.match(out, /192\.0\.2\.5/);
    const ms = Number(/Query time: (\d+) msec/.exec(out)?.[1]);
    assert.ok(ms < 100, `dig: ${ms} ms`);
  } finally {
    clearInterval(keepOn);
    flooder.close();
  }
  assert.ok(s.server.metrics.dropsOf('overload') > 0, 'the flood beyond the slots was dropped');
  assert.match(await registry.getSingleMetricAsString('dcnet_dns_dropped_total'), /reason="overload"/);
});

test('TCP: a client trickling bytes loses its connection at the message deadline; silent connects too; pauses between messages are fine', async () => {
  const { port, s } = await nodeDns({ tcpMessageMs: 300 });
  const open = async (): Promise<TcpSocket> => {
    const c = connect({ host: '127.0.0.1', port });
    conns.push(c);
    c.on('error', () => {});
    await new Promise((r) => c.once('connect', r));
    return c;
  };
  const q = queryBytes('ready.spartan', 'A', { id: 9 });
  const framed = Buffer.concat([Buffer.from([0, q.length]), q]);
  // One byte every 40 ms: the whole query would take over a second.
  const slow = await open();
  let answered = false;
  slow.on('data', () => (answered = true));
  const closedAt = new Promise<number>((r) => slow.once('close', () => r(performance.now())));
  const t0 = performance.now();
  void (async () => {
    for (const byte of framed) {
      if (slow.destroyed) return;
      slow.write(Buffer.from([byte]));
      await sleep(40);
    }
  })();
  // Meanwhile another client is served.
  const [other] = await tcpAsk(port, [queryBytes('ready.spartan', 'A')], 1000);
  assert.equal(rcodeOf(decode(other!)), 'NOERROR');
  const took = (await closedAt) - t0;
  assert.ok(took >= 250 && took < 1000, `closed after ${took.toFixed(0)} ms`);
  assert.ok(!answered, 'the trickled query was never answered');
  // A connection that sends nothing is closed at the deadline too (not after the idle timeout).
  const silent = await open();
  const t1 = performance.now();
  await new Promise((r) => silent.once('close', r));
  const quiet = performance.now() - t1;
  assert.ok(quiet >= 250 && quiet < 1000, `silent connection closed after ${quiet.toFixed(0)} ms`);
  assert.equal(s.server.metrics.dropsOf('tcp_deadline'), 2);
  // Whole messages with pauses longer than the deadline (but under the idle timeout) are fine.
  const steady = await open();
  const replies: number[] = [];
  let buf = Buffer.alloc(0);
  steady.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      replies.push(decode(buf.subarray(2, 2 + buf.readUInt16BE(0))).id!);
      buf = buf.subarray(2 + buf.readUInt16BE(0));
    }
  });
  for (const id of [1, 2, 3]) {
    const m = queryBytes('ready.spartan', 'A', { id });
    steady.write(Buffer.concat([Buffer.from([0, m.length]), m]));
    await sleep(450);
  }
  assert.deepEqual(replies, [1, 2, 3]);
  assert.ok(!steady.destroyed);
});

test('per-client rate limit: over it UDP is dropped and TCP refused, while another client (and an exempt one) is served', async () => {
  const { port, s, registry } = await nodeDns({
    clientRateLimit: { qps: 1, burst: 20, exempt: ['127.0.0.7'] },
  });
  const blast = async (from: string, count: number): Promise<number> => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, from, r));
    let replies = 0;
    sock.on('message', () => replies++);
    const q = queryBytes('ready.spartan', 'A');
    for (let i = 0; i < count; i++) sock.send(q, port, '127.0.0.1');
    for (let i = 0; i < 20 && replies < count; i++) await sleep(10);
    sock.close();
    return replies;
  };
  const greedy = await blast('127.0.0.5', 200);
  assert.ok(greedy >= 20 && greedy <= 22, `${greedy} of 200 answered at 1 qps, burst 20`);
  // The greedy client over TCP: REFUSED (TCP sources cannot be spoofed, so it is told).
  const c = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.5' });
  conns.push(c);
  const tcpReply = await new Promise<Buffer>((resolve, reject) => {
    c.on('error', reject);
    c.on('data', (d: Buffer) => resolve(d.subarray(2)));
    const q = queryBytes('ready.spartan', 'A', { id: 31 });
    c.write(Buffer.concat([Buffer.from([0, q.length]), q]));
  });
  assert.equal(decode(tcpReply).id, 31);
  assert.equal(rcodeOf(decode(tcpReply)), 'REFUSED');
  // Another client, meanwhile: served (a health check with dig too).
  assert.equal(rcodeOf(decode(await udpAsk(port, queryBytes('ready.spartan', 'A'), 500))), 'NOERROR');
  assert.match(await dig(port, ['ready.spartan', 'ANY']), /status: NOERROR/);
  // An exempt client is never limited.
  assert.equal(await blast('127.0.0.7', 200), 200);
  const limited = s.server.metrics.dropsOf('ratelimit');
  assert.ok(limited >= 170 + 1, `${limited} limited`);
  assert.match(await registry.getSingleMetricAsString('dcnet_dns_dropped_total'), /reason="ratelimit"/);
});

test('TCP: one client cannot hold every connection slot', async () => {
  const { port, s } = await nodeDns({ maxTcpPerClient: 3 });
  const mine: TcpSocket[] = [];
  const open = (localAddress: string): Promise<'open' | 'closed'> =>
    new Promise((resolve) => {
      const c = connect({ host: '127.0.0.1', port, localAddress });
      conns.push(c);
      mine.push(c);
      c.on('error', () => {});
      c.once('close', () => resolve('closed'));
      c.once('connect', () => setTimeout(() => resolve(c.destroyed ? 'closed' : 'open'), 100));
    });
  const held = await Promise.all([1, 2, 3].map(() => open('127.0.0.5')));
  assert.deepEqual(held, ['open', 'open', 'open']);
  assert.equal(await open('127.0.0.5'), 'closed', 'a fourth from the same address');
  const [r] = await tcpAsk(port, [queryBytes('ready.spartan', 'A')], 1000);
  assert.equal(rcodeOf(decode(r!)), 'NOERROR', 'another client is served');
  assert.equal(s.server.metrics.dropsOf('tcp_client_overload'), 1);
  // Closing one frees its slot.
  mine[0]!.destroy();
  await sleep(50);
  assert.equal(await open('127.0.0.5'), 'open');
});
