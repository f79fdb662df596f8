// Forwarding building blocks without sockets: allow-list, upstream parsing, resolv.conf defaults,
// the dcos-dns upstream choice, the answer cache (fake clock), truncation of relayed replies, the
// reply checks (question match, random IDs) and their counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { Registry } from 'prom-client';
import {
  AllowList,
  DnsMetrics,
  ForwardCache,
  parseUpstream,
  randomId,
  sameQuestion,
  takeUpstreams,
  truncateMessage,
  upstreamsFromResolvConf,
  type Upstream,
} from '../../src/dns/server/index.js';
import { decode, flagsOf, parsed, queryBytes, rcodeOf } from '../helpers/dns.js';

test('AllowList: defaults cover loopback, private, shared, ULA, link-local and overlay space only', () => {
  const a = new AllowList();
  for (const ok of [
    '127.0.0.1',
    '::1',
    '10.1.2.3',
    '172.31.0.1',
    '192.168.1.1',
    '100.64.0.1',
    '169.254.1.1',
    'fd00::1',
    'fe80::1',
    '198.51.100.4',
    '9.0.1.2',
    '::ffff:10.0.0.1',
  ]) {
    assert.ok(a.allows(ok), ok);
  }
  for (const no of [
    '192.0.2.1',
    '203.0.113.9',
    '172.32.0.1',
    '100.128.0.1',
    '2001:db8::1',
    '::ffff:192.0.2.1',
    'garbage',
  ]) {
    assert.ok(!a.allows(no), no);
  }
  assert.ok(!new AllowList(['10.0.0.0/8']).allows('127.0.0.1'));
  assert.throws(() => new AllowList(['10.0.0.0/33']), /allow-list\[0\]: "10.0.0.0\/33"/);
  assert.ok(new AllowList(['192.0.2.5']).allows('192.0.2.5'));
});

test('parseUpstream: ip, ip:port, [v6]:port, bare v6; errors name the value', () => {
  assert.deepEqual(parseUpstream('192.0.2.1'), { host: '192.0.2.1', port: 53 });
  assert.deepEqual(parseUpstream('192.0.2.1:61053'), { host: '192.0.2.1', port: 61053 });
  assert.deepEqual(parseUpstream('[2001:db8::1]:5353'), { host: '2001:db8::1', port: 5353 });
  assert.deepEqual(parseUpstream('2001:db8::1'), { host: '2001:db8::1', port: 53 });
  assert.throws(() => parseUpstream('resolver.example'), /upstream "resolver.example"/);
  assert.throws(() => parseUpstream('192.0.2.1:0'), /upstream/);
});

test('upstreamsFromResolvConf: nameservers minus the host’s own addresses, deduplicated, port 53', () => {
  const text = [
    '# generated',
    'search example.com',
    'nameserver 198.51.100.1',
    'nameserver 192.0.2.53',
    'nameserver   192.0.2.54 ',
    'nameserver 192.0.2.53',
    'nameserver fe80::1%eth0',
    'options ndots:2',
  ].join('\n');
  assert.deepEqual(upstreamsFromResolvConf(text, new Set(['198.51.100.1', 'fe80::1'])), [
    { host: '192.0.2.53', port: 53 },
    { host: '192.0.2.54', port: 53 },
  ]);
  assert.deepEqual(upstreamsFromResolvConf('nameserver 127.0.0.1\n'), [], 'the host itself (lo) is excluded');
});

test('takeUpstreams: all when < 3; else two of the least-failed bucket, or its only member + one from the next', () => {
  const u = (n: number): Upstream => ({ host: `192.0.2.${n}`, port: 53 });
  const fails = new Map<string, number>();
  const f = (x: Upstream) => fails.get(x.host) ?? 0;
  assert.deepEqual(takeUpstreams([u(1), u(2)], f), [u(1), u(2)]);
  const four = [u(1), u(2), u(3), u(4)];
  for (let i = 0; i < 50; i++) {
    const got = takeUpstreams(four, f);
    assert.equal(got.length, 2);
    assert.notEqual(got[0]!.host, got[1]!.host);
  }
  fails.set('192.0.2.1', 5);
  fails.set('192.0.2.2', 5);
  fails.set('192.0.2.3', 1);
  fails.set('192.0.2.4', 3);
  for (let i = 0; i < 20; i++) {
    const got = takeUpstreams(four, f).map((x) => x.host);
    assert.deepEqual(got, ['192.0.2.3', '192.0.2.4']);
  }
  fails.set('192.0.2.4', 1);
  for (let i = 0; i < 20; i++)
    assert.deepEqual(
      takeUpstreams(four, f)
        .map((x) => x.host)
        .sort(),
      ['192.0.2.3', '192.0.2.4'],
    );
});

function reply(
  name: string,
  type: string,
  opts: { id?: number; rcode?: string; ttl?: number; soa?: number; minimum?: number; tc?: boolean } = {},
) {
  return dnsPacket.encode({
    type: 'response',
    id: opts.id ?? 1,
    flags:
      (opts.tc ? dnsPacket.TRUNCATED_RESPONSE : 0) |
      (opts.rcode === 'NXDOMAIN' ? 3 : 0) |
      dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }],
    answers: opts.ttl ? [{ name, type: 'A', ttl: opts.ttl, data: '192.0.2.10' }] : [],
    authorities: opts.soa
      ? [
          {
            name: 'example.com',
            type: 'SOA',
            ttl: opts.soa,
            data: {
              mname: 'ns.example.com',
              rname: 'h.example.com',
              serial: 1,
              refresh: 1,
              retry: 1,
              expire: 1,
              minimum: opts.minimum ?? 30,
            },
          },
        ]
      : [],
  });
}

test('ForwardCache: positive TTL, ID/RD/case patched on hits, TTL counts down, expiry', () => {
  let now = 1_000_000;
  const c = new ForwardCache({ now: () => now });
  const q = parsed(queryBytes('www.example.com', 'A', { id: 1 }));
  c.put(q, reply('www.example.com', 'A', { ttl: 20 }));
  now += 5_500;
  const hit = c.get(parsed(queryBytes('WWW.Example.com', 'A', { id: 555, rd: false })), 512)!;
  const p = decode(hit);
  assert.equal(p.id, 555);
  assert.equal(p.questions?.[0]?.name, 'WWW.Example.com');
  assert.ok(!flagsOf(p).rd);
  assert.equal((p.answers?.[0] as { ttl?: number } | undefined)?.ttl, 15);
  assert.equal(c.get(parsed(queryBytes('www.example.com', 'AAAA')), 512), undefined, 'other qtype: miss');
  now += 15_000;
  assert.equal(c.get(q, 512), undefined, 'expired');
  assert.deepEqual(c.stats, { hits: 1, misses: 2, stored: 1 });
});

test('ForwardCache: negative answers for min(SOA TTL, MINIMUM); not without SOA; not TC or SERVFAIL; capped size', () => {
  let now = 0;
  const c = new ForwardCache({ now: () => now, maxEntries: 3 });
  const nx = parsed(queryBytes('nope.example.com', 'A'));
  c.put(nx, reply('nope.example.com', 'A', { rcode: 'NXDOMAIN', soa: 100, minimum: 10 }));
  now += 9_000;
  assert.equal(rcodeOf(decode(c.get(nx, 512)!)), 'NXDOMAIN');
  now += 2_000;
  assert.equal(c.get(nx, 512), undefined, 'negative TTL = SOA minimum 10 s');
  const bare = parsed(queryBytes('bare.example.com', 'A'));
  c.put(bare, reply('bare.example.com', 'A', { rcode: 'NXDOMAIN' }));
  assert.equal(c.get(bare, 512), undefined);
  const tc = parsed(queryBytes('tc.example.com', 'A'));
  c.put(tc, reply('tc.example.com', 'A', { ttl: 60, tc: true }));
  assert.equal(c.get(tc, 512), undefined);
  const other = parsed(queryBytes('asked.example.com', 'A'));
  c.put(other, reply('different.example.com', 'A', { ttl: 60 }));
  assert.equal(c.get(other, 512), undefined, 'a reply for another question is not stored');
  for (let i = 0; i < 5; i++)
    c.put(parsed(queryBytes(`n${i}.example.com`, 'A')), reply(`n${i}.example.com`, 'A', { ttl: 60 }));
  assert.equal(c.size, 3);
  assert.ok(c.get(parsed(queryBytes('n4.example.com', 'A')), 512));
  assert.equal(
    c.get(parsed(queryBytes('n0.example.com', 'A')), 512),
    undefined,
    'least recently used evicted',
  );
});

test('truncateMessage: keeps OPT, drops additionals then answers, sets TC; unparseable → header + question', () => {
  const answers = Array.from({ length: 60 }, (_, i) => ({
    name: 'big.example.com',
    type: 'A' as const,
    ttl: 5,
    data: `192.0.2.${i + 1}`,
  }));
  const msg = dnsPacket.encode({
    type: 'response',
    id: 3,
    questions: [{ name: 'big.example.com', type: 'A', class: 'IN' }],
    answers,
    additionals: [
      { name: 'x.example.com', type: 'A', ttl: 5, data: '192.0.2.200' },
      { type: 'OPT', name: '.', udpPayloadSize: 4096 } as dnsPacket.Answer,
    ],
  });
  const t = truncateMessage(msg, 512);
  assert.ok(t.length < 512);
  const p = decode(t);
  assert.ok(flagsOf(p).tc);
  assert.deepEqual(
    p.additionals?.map((a) => a.type),
    ['OPT'],
  );
  assert.ok((p.answers?.length ?? 0) > 10 && (p.answers?.length ?? 0) < 60);
  const garbage = Buffer.concat([msg.subarray(0, 40), Buffer.alloc(600, 0xff)]);
  const g = truncateMessage(garbage, 512);
  assert.ok(g.length <= 512);
  assert.ok(g.readUInt16BE(2) & 0x0200);
});

test('sameQuestion: name case-insensitive, type and class exact, a question required', () => {
  const q = parsed(queryBytes('www.Example.com', 'A')).question;
  const r = (name: string, type: string, klass = 'IN') =>
    dnsPacket.encode({
      type: 'response',
      id: 1,
      questions: [{ name, type: type as dnsPacket.RecordType, class: klass as 'IN' }],
    });
  assert.ok(sameQuestion(r('www.example.com', 'A'), q));
  assert.ok(sameQuestion(r('WWW.EXAMPLE.COM', 'A'), q));
  assert.ok(!sameQuestion(r('www.example.org', 'A'), q));
  assert.ok(!sameQuestion(r('www.example.com', 'AAAA'), q));
  assert.ok(!sameQuestion(r('www.example.com', 'A', 'CH'), q));
  assert.ok(!sameQuestion(r('www.example.com.evil', 'A'), q), 'a longer name');
  assert.ok(!sameQuestion(r('ww.example.com', 'A'), q));
  const none = Buffer.from(r('www.example.com', 'A'));
  none.writeUInt16BE(0, 4);
  assert.ok(!sameQuestion(none, q), 'QDCOUNT 0');
  assert.ok(!sameQuestion(none.subarray(0, 20), q), 'cut short');
  // Type 65 (0x0041, HTTPS) must not match type 97 (0x0061) by case folding.
  const t65 = parsed(queryBytes('a.example', 'HTTPS')).question;
  const t97 = Buffer.from(r('a.example', 'HTTPS'));
  t97.writeUInt16BE(97, t97.length - 4);
  assert.ok(!sameQuestion(t97, t65));
});

test('randomId: 16-bit values from the crypto RNG, spread over the whole range', () => {
  const seen = new Set<number>();
  let high = 0;
  for (let i = 0; i < 10_000; i++) {
    const v = randomId();
    assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffff);
    seen.add(v);
    if (v >= 0x8000) high++;
  }
  assert.ok(seen.size > 9000, `${seen.size} distinct of 10,000`);
  assert.ok(high > 4500 && high < 5500, `${high} in the upper half`);
});

test('forward rejections are counted by reason and cross from a worker to the primary', async () => {
  const worker = new DnsMetrics(new Registry());
  worker.forwardReject('id');
  worker.forwardReject('id');
  worker.forwardReject('question');
  const registry = new Registry();
  const primary = new DnsMetrics(registry);
  primary.absorb(worker.drain());
  assert.equal(primary.forwardRejectedOf('id'), 2);
  assert.equal(primary.totals.forwardRejected, 3);
  const text = await registry.getSingleMetricAsString('dcnet_dns_forward_rejected_total');
  assert.match(text, /reason="id"\} 2/);
  assert.match(text, /reason="question"\} 1/);
  assert.deepEqual(worker.drain().forwardRejected, [], 'drained once');
});
