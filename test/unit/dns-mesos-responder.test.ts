// Mesos-DNS responder conformance: the §3.11 transcripts and the §6.4 handler table, against the
// records generated from the fake.json fixture, plus the §3.3–3.7 rules (wildcards, case, shuffle,
// truncation invariants) and the EDNS0 extension.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMesosState } from '../../src/cluster/index.js';
import { generateRecords, type RecordSet } from '../../src/dns/mesos/index.js';
import { MesosResponder, type MesosResponderOptions } from '../../src/dns/server/index.js';
import { fixture } from '../helpers/fixtures.js';
import {
  decode,
  flagsOf,
  parsed,
  queryBytes,
  rcodeOf,
  type Packet,
  type QueryOptions,
} from '../helpers/dns.js';

function records(): RecordSet {
  const doc = JSON.parse(fixture('mesos-dns/fake.json')) as Record<string, unknown>;
  return generateRecords(
    parseMesosState(doc), // leader as in the fixture: master@1.2.3.4:5050
    {
      domain: 'mesos',
      soaMname: 'mesos-dns.mesos.',
      listenerAddrs: ['127.0.0.1'],
      spec: 'rfc952',
      ipSources: ['netinfo', 'docker', 'mesos', 'host'],
      masters: ['144.76.157.37:5050'],
    },
    (host) => (host === 'localhost' ? ['127.0.0.1'] : []),
  );
}

/** The resolver-test setup: RecurseOn false, SOA defaults without trailing dots, serial 0. */
function responder(extra: Partial<MesosResponderOptions> = {}, rs: RecordSet = records()): MesosResponder {
  const r = new MesosResponder({
    domain: 'mesos',
    soaMname: 'ns1.mesos',
    soaRname: 'root.ns1.mesos',
    recurseOn: false,
    ...extra,
  });
  r.setRecords(rs, 0);
  return r;
}

const R = responder();

function ask(name: string, type: string, o: QueryOptions & { tcp?: boolean } = {}, r = R): Packet {
  const q = parsed(queryBytes(name, type, o));
  return decode(r.answer(q, { transport: o.tcp ? 'tcp' : 'udp', maxUdpSize: 4096 }));
}

type Rr = { name: string; type: string; ttl?: number; data: unknown };
const rrs = (xs: Packet['answers']): Rr[] => (xs ?? []).filter((r) => r.type !== 'OPT') as unknown as Rr[];
const text = (r: Rr): string => {
  const d = r.data as Record<string, unknown> | string;
  if (r.type === 'SRV') {
    const s = d as { priority: number; weight: number; port: number; target: string };
    return `${r.name} SRV ${s.priority} ${s.weight} ${s.port} ${s.target}.`;
  }
  if (r.type === 'SOA') {
    const s = d as {
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    };
    return `${r.name} SOA ${s.mname}. ${s.rname}. ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
  }
  if (r.type === 'NS') return `${r.name} NS ${String(d)}.`;
  return `${r.name} ${r.type} ${String(d)}`;
};
const set = (xs: Packet['answers']): string[] => rrs(xs).map(text).sort();

const SOA = (owner: string): string => `${owner} SOA ns1.mesos. root.ns1.mesos. 0 60 600 86400 60`;
const NS = (owner: string): string => `${owner} NS ns1.mesos.`;

interface Row {
  q: [string, string];
  rcode: string;
  answer?: string[];
  authority?: string[];
  additional?: string[];
}

// §3.11 (owner names as dns-packet prints them: no trailing dot).
const transcripts: Row[] = [
  { q: ['leader.mesos.', 'A'], rcode: 'NOERROR', answer: ['leader.mesos A 1.2.3.4'] },
  { q: ['leader.mesos.', 'AAAA'], rcode: 'NOERROR', authority: [SOA('leader.mesos')] },
  { q: ['leader.mesos.', 'MX'], rcode: 'NOERROR', authority: [SOA('leader.mesos')] },
  {
    q: ['leader.mesos.', 'ANY'],
    rcode: 'NOERROR',
    answer: ['leader.mesos A 1.2.3.4'],
    authority: [NS('leader.mesos'), SOA('leader.mesos')],
  },
  { q: ['mesos.', 'SOA'], rcode: 'NOERROR', authority: [SOA('mesos')] },
  { q: ['mesos.', 'NS'], rcode: 'NOERROR', authority: [NS('mesos')] },
  { q: ['mesos.', 'A'], rcode: 'NXDOMAIN', authority: [SOA('mesos')] },
  { q: ['nothere.mesos.', 'A'], rcode: 'NXDOMAIN', authority: [SOA('nothere.mesos')] },
  { q: ['nothere.mesos.', 'TXT'], rcode: 'NXDOMAIN', authority: [SOA('nothere.mesos')] },
  { q: ['nothere.mesos.', 'SRV'], rcode: 'NOERROR' },
  {
    q: ['nothere.mesos.', 'ANY'],
    rcode: 'NXDOMAIN',
    authority: [NS('nothere.mesos'), SOA('nothere.mesos'), SOA('nothere.mesos')],
  },
  {
    q: ['_liquor-store._tcp.marathon.mesos.', 'SRV'],
    rcode: 'NOERROR',
    answer: [
      '_liquor-store._tcp.marathon.mesos SRV 0 1 443 liquor-store-4dfjd-0.marathon.mesos.',
      '_liquor-store._tcp.marathon.mesos SRV 0 1 443 liquor-store-zasmd-1.marathon.mesos.',
      '_liquor-store._tcp.marathon.mesos SRV 0 1 80 liquor-store-4dfjd-0.marathon.mesos.',
      '_liquor-store._tcp.marathon.mesos SRV 0 1 80 liquor-store-zasmd-1.marathon.mesos.',
    ],
    additional: [
      'liquor-store-4dfjd-0.marathon.mesos A 10.3.0.1',
      'liquor-store-zasmd-1.marathon.mesos A 10.3.0.2',
    ],
  },
  {
    q: ['_toy-store._tcp.ipv6-framework.mesos.', 'SRV'],
    rcode: 'NOERROR',
    answer: [
      '_toy-store._tcp.ipv6-framework.mesos SRV 0 1 31354 toy-store-go588-3.ipv6-framework.slave.mesos.',
      '_toy-store._tcp.ipv6-framework.mesos SRV 0 1 31355 toy-store-go588-3.ipv6-framework.slave.mesos.',
    ],
    additional: ['toy-store-go588-3.ipv6-framework.slave.mesos AAAA 2001:db8::1'],
  },
  {
    q: ['_car-store._udp.marathon.mesos.', 'A'],
    rcode: 'NOERROR',
    authority: [SOA('_car-store._udp.marathon.mesos')],
  },
  { q: ['mesos-dns.mesos.', 'A'], rcode: 'NOERROR', answer: ['mesos-dns.mesos A 127.0.0.1'] },
];

// §6.4 TestHandlers (the forwarded google.com row lives in the forwarding tests).
const handlers: Row[] = [
  { q: ['chronos.marathon.mesos.', 'A'], rcode: 'NOERROR', answer: ['chronos.marathon.mesos A 1.2.3.11'] },
  { q: ['cHrOnOs.MARATHON.mesoS.', 'A'], rcode: 'NOERROR', answer: ['chronos.marathon.mesos A 1.2.3.11'] },
  {
    q: ['toy-store.ipv6-framework.mesos.', 'AAAA'],
    rcode: 'NOERROR',
    answer: ['toy-store.ipv6-framework.mesos AAAA fd01:b::1:8000:2'],
  },
  transcripts[11]!,
  {
    q: ['_car-store._udp.marathon.mesos.', 'SRV'],
    rcode: 'NOERROR',
    answer: [
      '_car-store._udp.marathon.mesos SRV 0 1 31364 car-store-zinaz-0.marathon.slave.mesos.',
      '_car-store._udp.marathon.mesos SRV 0 1 31365 car-store-zinaz-0.marathon.slave.mesos.',
    ],
    additional: ['car-store-zinaz-0.marathon.slave.mesos A 1.2.3.11'],
  },
  {
    q: ['_car-store._udp.marathon.mesos.', 'A'],
    rcode: 'NOERROR',
    authority: [SOA('_car-store._udp.marathon.mesos')],
  },
  { q: ['non-existing.mesos.', 'SOA'], rcode: 'NOERROR', authority: [SOA('non-existing.mesos')] },
  { q: ['non-existing.mesos.', 'NS'], rcode: 'NOERROR', authority: [NS('non-existing.mesos')] },
  { q: ['missing.mesos.', 'A'], rcode: 'NXDOMAIN', authority: [SOA('missing.mesos')] },
  { q: ['chronos.marathon.mesos.', 'AAAA'], rcode: 'NOERROR', authority: [SOA('chronos.marathon.mesos')] },
  { q: ['missing.mesos.', 'AAAA'], rcode: 'NXDOMAIN', authority: [SOA('missing.mesos')] },
];

for (const [table, rows] of [
  ['§3.11', transcripts],
  ['§6.4', handlers],
] as const) {
  for (const row of rows) {
    test(`${table} ${row.q[0]} ${row.q[1]} → ${row.rcode}`, () => {
      const p = ask(row.q[0], row.q[1], { id: 777, rd: true });
      assert.equal(rcodeOf(p), row.rcode);
      assert.equal(p.id, 777);
      assert.deepEqual(flagsOf(p), { aa: true, tc: false, rd: true, ra: false, qr: true });
      assert.equal(p.questions?.[0]?.name, row.q[0].replace(/\.$/, ''), 'question echoed as sent');
      assert.deepEqual(set(p.answers), [...(row.answer ?? [])].sort());
      assert.deepEqual(set(p.authorities), [...(row.authority ?? [])].sort());
      assert.deepEqual(set(p.additionals), [...(row.additional ?? [])].sort());
      for (const r of [...rrs(p.answers), ...rrs(p.authorities), ...rrs(p.additionals)])
        assert.equal(r.ttl, 60);
    });
  }
}

test('ANY on a name that exists: authority is SOA then NS (exact order), no second SOA', () => {
  const p = ask('leader.mesos.', 'ANY');
  assert.deepEqual(
    rrs(p.authorities).map((r) => r.type),
    ['SOA', 'NS'],
  );
  const empty = ask('nothere.mesos.', 'ANY');
  assert.deepEqual(
    rrs(empty.authorities).map((r) => r.type),
    ['SOA', 'NS', 'SOA'],
  );
});

test('SRV owner keeps the question case; A owner is the normalised name; wildcard .* stripped', () => {
  const srv = ask('_Leader._TCP.mesos.', 'SRV');
  assert.deepEqual(set(srv.answers), ['_Leader._TCP.mesos SRV 0 1 5050 leader.mesos.']);
  assert.deepEqual(set(srv.additionals), ['leader.mesos A 1.2.3.4']);
  const a = ask('Leader.Mesos.', 'A');
  assert.deepEqual(set(a.answers), ['leader.mesos A 1.2.3.4']);
  assert.equal(a.questions?.[0]?.name, 'Leader.Mesos');
  const w = ask('liquor-store.*.marathon.mesos.', 'A');
  assert.equal(rcodeOf(w), 'NOERROR');
  assert.deepEqual(set(w.answers), [
    'liquor-store.marathon.mesos A 10.3.0.1',
    'liquor-store.marathon.mesos A 10.3.0.2',
  ]);
  assert.equal(w.questions?.[0]?.name, 'liquor-store.*.marathon.mesos', 'question not stripped');
  assert.equal(rcodeOf(ask('*.leader.mesos.', 'A')), 'NXDOMAIN', 'a leading *. is not special');
  assert.equal(rcodeOf(ask('_leader._tcp.mesos.', 'A')), 'NOERROR', 'exists as SRV → NODATA');
});

test('_slave._tcp.mesos. SRV: one answer plus one A and one AAAA of the target', () => {
  const p = ask('_slave._tcp.mesos.', 'SRV');
  assert.deepEqual(set(p.answers), ['_slave._tcp.mesos SRV 0 1 5051 slave.mesos.']);
  const add = rrs(p.additionals);
  assert.deepEqual(add.map((r) => r.type).sort(), ['A', 'AAAA']);
  assert.ok(['1.2.3.10', '1.2.3.11', '1.2.3.12'].includes(String(add.find((r) => r.type === 'A')!.data)));
});

test('RA follows recurseOn; TTL, SRV weight and SOA fields follow the options', () => {
  const r = responder({ recurseOn: true, ttl: 7, srvWeight: 9, soaRefresh: 11, soaRetry: 12, soaExpire: 13 });
  r.setRecords(records(), 1234);
  const p = ask('_leader._tcp.mesos.', 'SRV', {}, r);
  assert.ok(flagsOf(p).ra);
  assert.deepEqual(set(p.answers), ['_leader._tcp.mesos SRV 0 9 5050 leader.mesos.']);
  assert.equal(rrs(p.answers)[0]!.ttl, 7);
  const soa = ask('mesos.', 'SOA', {}, r);
  assert.deepEqual(set(soa.authorities), ['mesos SOA ns1.mesos. root.ns1.mesos. 1234 11 12 13 7']);
});

test('answers are shuffled (every order of a 3-address name shows up)', () => {
  const orders = new Set<string>();
  for (let i = 0; i < 300; i++)
    orders.add(
      rrs(ask('slave.mesos.', 'A').answers)
        .map((r) => String(r.data))
        .join(','),
    );
  assert.equal(orders.size, 6);
});

test('setRecords replaces the data atomically', () => {
  const r = responder();
  r.setRecords({ a: new Map([['new.mesos.', new Set(['192.0.2.9'])]]), aaaa: new Map(), srv: new Map() }, 5);
  assert.equal(rcodeOf(ask('leader.mesos.', 'A', {}, r)), 'NXDOMAIN');
  assert.deepEqual(set(ask('new.mesos.', 'A', {}, r).answers), ['new.mesos A 192.0.2.9']);
  assert.equal(r.serial, 5);
});

function bigRecords(n: number): RecordSet {
  const ips = new Set<string>();
  for (let i = 0; i < n; i++) ips.add(`192.0.2.${i + 1}`);
  const srv = new Set<string>();
  for (let i = 0; i < n; i++) srv.add(`agent${i}.mesos.:${5000 + i}`);
  const a = new Map([['slave.mesos.', ips]]);
  for (let i = 0; i < n; i++) a.set(`agent${i}.mesos.`, new Set([`198.51.100.${i + 1}`]));
  return { a, aaaa: new Map(), srv: new Map([['_slave._tcp.mesos.', srv]]) };
}

test('§3.7 truncation: 512 without OPT (30 of 100 A fit), TC set, size < limit', () => {
  const r = responder({}, bigRecords(100));
  const bytes = r.answer(parsed(queryBytes('slave.mesos.', 'A')), { transport: 'udp', maxUdpSize: 512 });
  assert.ok(bytes.length < 512);
  const p = decode(bytes);
  assert.equal(p.answers?.length, 30);
  assert.ok(flagsOf(p).tc);
  const tcp = decode(
    r.answer(parsed(queryBytes('slave.mesos.', 'A')), { transport: 'tcp', maxUdpSize: 65535 }),
  );
  assert.equal(tcp.answers?.length, 100, 'TCP: 65535 whatever the EDNS size');
  assert.ok(!flagsOf(tcp).tc);
});

test('§3.7 truncation: additionals dropped first, then answers from the end; SetTruncateBit false clears TC', () => {
  const r = responder({}, bigRecords(40));
  const p = decode(
    r.answer(parsed(queryBytes('_slave._tcp.mesos.', 'SRV')), { transport: 'udp', maxUdpSize: 512 }),
  );
  assert.equal(p.additionals?.length ?? 0, 0);
  assert.ok((p.answers?.length ?? 0) > 0 && (p.answers?.length ?? 0) < 40);
  assert.ok(flagsOf(p).tc);
  const quiet = responder({ setTruncateBit: false }, bigRecords(40));
  const q = decode(
    quiet.answer(parsed(queryBytes('_slave._tcp.mesos.', 'SRV')), { transport: 'udp', maxUdpSize: 512 }),
  );
  assert.ok(!flagsOf(q).tc);
  assert.equal(q.answers?.length, p.answers?.length);
  // Only the additionals overflow: they go, TC is set, all answers stay.
  const few = responder({}, bigRecords(14));
  const f = decode(
    few.answer(parsed(queryBytes('_slave._tcp.mesos.', 'SRV')), { transport: 'udp', maxUdpSize: 512 }),
  );
  assert.equal(f.answers?.length, 14);
  assert.equal(f.additionals?.length ?? 0, 0);
  assert.ok(flagsOf(f).tc);
});

test('EDNS0 (dcnet extension): the client size is honoured and an OPT echoed; honourEdns false keeps 512', () => {
  const r = responder({}, bigRecords(100));
  const q = parsed(queryBytes('slave.mesos.', 'A', { edns: 4096 }));
  const p = decode(r.answer(q, { transport: 'udp', maxUdpSize: 4096 }));
  assert.equal(p.answers?.length, 100);
  assert.ok(!flagsOf(p).tc);
  assert.equal((p.additionals ?? []).filter((x) => x.type === 'OPT').length, 1);
  const small = decode(
    r.answer(parsed(queryBytes('slave.mesos.', 'A', { edns: 1232 })), { transport: 'udp', maxUdpSize: 1232 }),
  );
  assert.ok(flagsOf(small).tc);
  assert.ok((small.answers?.length ?? 0) > 30 && (small.answers?.length ?? 0) < 100);
  const orig = responder({ honourEdns: false }, bigRecords(100));
  const o = decode(orig.answer(q, { transport: 'udp', maxUdpSize: 4096 }));
  assert.equal(o.answers?.length, 30);
  assert.equal((o.additionals ?? []).filter((x) => x.type === 'OPT').length, 0);
});
