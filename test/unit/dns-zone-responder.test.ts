// dcos-dns internal zones (specs/dcos-net.md §1.4/§1.5) and the router table (§1.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ZoneResponder,
  createDcosDnsRouter,
  routeDcosDns,
  type HandlerContext,
  type LoadBalance,
} from '../../src/dns/server/index.js';
import {
  decode,
  flagsOf,
  parsed,
  queryBytes,
  rcodeOf,
  type Packet,
  type QueryOptions,
} from '../helpers/dns.js';

const m = <V>(entries: [string, V][]): Map<string, V> => new Map(entries);

function zones(loadBalance: LoadBalance = 'round_robin'): ZoneResponder {
  const z = new ZoneResponder({ loadBalance });
  z.setZone('spartan', {
    a: m([
      ['ready.spartan', ['127.0.0.1']],
      ['ns.spartan', ['198.51.100.1']],
    ]),
  });
  z.setZone('mesos.thisdcos.directory', {
    a: m([
      ['master.mesos.thisdcos.directory', ['192.0.2.1', '192.0.2.2', '192.0.2.3']],
      [
        'five.marathon.mesos.thisdcos.directory',
        ['192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14', '192.0.2.15'],
      ],
      ['agent.marathon.mesos.thisdcos.directory', ['192.0.2.21']],
    ]),
    aaaa: m([['agent.marathon.mesos.thisdcos.directory', ['2001:db8::21']]]),
    srv: m([
      [
        '_web._tcp.marathon.mesos.thisdcos.directory',
        ['agent.marathon.mesos.thisdcos.directory:31000', 'agent.marathon.mesos.thisdcos.directory.:31001'],
      ],
    ]),
  });
  z.setZone('component.thisdcos.directory', {
    cname: m([
      ['registry.component.thisdcos.directory', 'master.mesos.thisdcos.directory'],
      ['c1.component.thisdcos.directory', 'c2.component.thisdcos.directory'],
      ['c2.component.thisdcos.directory', 'c3.component.thisdcos.directory'],
      ['c3.component.thisdcos.directory', 'five.marathon.mesos.thisdcos.directory'],
      ['loop1.component.thisdcos.directory', 'loop2.component.thisdcos.directory'],
      ['loop2.component.thisdcos.directory', 'loop1.component.thisdcos.directory'],
      ['away.component.thisdcos.directory', 'www.example.com'],
      ['gone.component.thisdcos.directory', 'nothing.mesos.thisdcos.directory'],
    ]),
  });
  z.setZone('l4lb.thisdcos.directory', {
    a: m([['web.marathon.l4lb.thisdcos.directory', ['198.51.100.7']]]),
  });
  return z;
}

const Z = zones();
const udp: Pick<HandlerContext, 'transport' | 'maxUdpSize'> = { transport: 'udp', maxUdpSize: 4096 };

function ask(name: string, type: string, o: QueryOptions = {}, z = Z): Packet {
  return decode(z.answer(parsed(queryBytes(name, type, o)), udp));
}

type Rr = { name: string; type: string; ttl: number; data: unknown };
const rrs = (xs: Packet['answers']): Rr[] => (xs ?? []).filter((r) => r.type !== 'OPT') as unknown as Rr[];
const line = (r: Rr): string =>
  `${r.name} ${r.ttl} ${r.type} ${typeof r.data === 'object' ? JSON.stringify(r.data) : String(r.data)}`;

test('no zone owns the name: REFUSED, AA=0, nothing else', () => {
  const p = ask('foo.unknownzone.thisdcos.directory', 'A');
  assert.equal(rcodeOf(p), 'REFUSED');
  assert.ok(!flagsOf(p).aa);
  assert.equal((p.answers ?? []).length + (p.authorities ?? []).length, 0);
});

test('NXDOMAIN with the zone SOA (TTL = SOA minimum 1), AA=1, RA=0', () => {
  const p = ask('nothere.mesos.thisdcos.directory', 'A');
  assert.equal(rcodeOf(p), 'NXDOMAIN');
  assert.deepEqual(flagsOf(p), { aa: true, tc: false, rd: true, ra: false, qr: true });
  assert.deepEqual(rrs(p.authorities).map(line), [
    'mesos.thisdcos.directory 1 SOA {"mname":"ns.spartan","rname":"support.mesosphere.com","serial":1,"refresh":60,"retry":180,"expire":86400,"minimum":1}',
  ]);
});

test('NODATA: existing name, other type; and empty non-terminals', () => {
  const p = ask('master.mesos.thisdcos.directory', 'AAAA');
  assert.equal(rcodeOf(p), 'NOERROR');
  assert.equal((p.answers ?? []).length, 0);
  assert.deepEqual(
    rrs(p.authorities).map((r) => r.type),
    ['SOA'],
  );
  const ent = ask('marathon.mesos.thisdcos.directory', 'A');
  assert.equal(rcodeOf(ent), 'NOERROR');
  assert.deepEqual(
    rrs(ent.authorities).map((r) => r.type),
    ['SOA'],
  );
});

test('apex SOA (TTL 5) and NS ns.spartan (TTL 3600) with glue from the spartan zone', () => {
  const soa = ask('mesos.thisdcos.directory', 'SOA');
  assert.deepEqual(
    rrs(soa.answers).map((r) => [r.type, r.ttl]),
    [['SOA', 5]],
  );
  const ns = ask('mesos.thisdcos.directory', 'NS');
  assert.deepEqual(rrs(ns.answers).map(line), ['mesos.thisdcos.directory 3600 NS ns.spartan']);
  assert.deepEqual(rrs(ns.additionals).map(line), ['ns.spartan 5 A 198.51.100.1']);
});

test('A/AAAA/SRV records: TTL 5, SRV priority 1 weight 1, target glue (A and AAAA)', () => {
  const p = ask('_web._tcp.marathon.mesos.thisdcos.directory', 'SRV');
  assert.deepEqual(rrs(p.answers).map(line).sort(), [
    '_web._tcp.marathon.mesos.thisdcos.directory 5 SRV {"priority":1,"weight":1,"port":31000,"target":"agent.marathon.mesos.thisdcos.directory"}',
    '_web._tcp.marathon.mesos.thisdcos.directory 5 SRV {"priority":1,"weight":1,"port":31001,"target":"agent.marathon.mesos.thisdcos.directory"}',
  ]);
  assert.deepEqual(rrs(p.additionals).map(line).sort(), [
    'agent.marathon.mesos.thisdcos.directory 5 A 192.0.2.21',
    'agent.marathon.mesos.thisdcos.directory 5 AAAA 2001:db8::21',
  ]);
});

test('CNAME chain: 3 CNAMEs in chain order, then the 5 A records (8 RRs)', () => {
  const p = ask('c1.component.thisdcos.directory', 'A');
  assert.equal(rcodeOf(p), 'NOERROR');
  const a = rrs(p.answers);
  assert.equal(a.length, 8);
  assert.deepEqual(a.slice(0, 3).map(line), [
    'c1.component.thisdcos.directory 5 CNAME c2.component.thisdcos.directory',
    'c2.component.thisdcos.directory 5 CNAME c3.component.thisdcos.directory',
    'c3.component.thisdcos.directory 5 CNAME five.marathon.mesos.thisdcos.directory',
  ]);
  assert.ok(a.slice(3).every((r) => r.type === 'A' && r.name === 'five.marathon.mesos.thisdcos.directory'));
});

test('CNAME across zones (registry → master.mesos), to a missing name (NXDOMAIN), and out of the local zones', () => {
  const p = ask('registry.component.thisdcos.directory', 'A');
  assert.deepEqual(
    rrs(p.answers).map((r) => r.type),
    ['CNAME', 'A', 'A', 'A'],
  );
  const gone = ask('gone.component.thisdcos.directory', 'A');
  assert.equal(rcodeOf(gone), 'NXDOMAIN');
  assert.deepEqual(
    rrs(gone.answers).map((r) => r.type),
    ['CNAME'],
  );
  const away = ask('away.component.thisdcos.directory', 'A');
  assert.equal(rcodeOf(away), 'NOERROR');
  assert.deepEqual(
    rrs(away.answers).map((r) => r.type),
    ['CNAME'],
  );
  const cname = ask('c1.component.thisdcos.directory', 'CNAME');
  assert.deepEqual(
    rrs(cname.answers).map((r) => r.type),
    ['CNAME'],
    'qtype CNAME is not chased',
  );
});

test('CNAME loop: SERVFAIL', () => {
  assert.equal(rcodeOf(ask('loop1.component.thisdcos.directory', 'A')), 'SERVFAIL');
});

test('ANY returns every record of the name (ready.spartan)', () => {
  assert.deepEqual(rrs(ask('ready.spartan', 'ANY').answers).map(line), ['ready.spartan 5 A 127.0.0.1']);
  const agent = ask('agent.marathon.mesos.thisdcos.directory', 'ANY');
  assert.deepEqual(
    rrs(agent.answers)
      .map((r) => r.type)
      .sort(),
    ['A', 'AAAA'],
  );
  const apex = ask('spartan', 'ANY');
  assert.deepEqual(
    rrs(apex.answers)
      .map((r) => r.type)
      .sort(),
    ['NS', 'SOA'],
  );
});

test('round robin rotates by message id; random varies; disabled keeps the stored order', () => {
  const ips = (p: Packet) => rrs(p.answers).map((r) => String(r.data));
  const stored = ['192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14', '192.0.2.15'];
  for (let id = 0; id < 10; id++) {
    const k = id % 5;
    assert.deepEqual(ips(ask('five.marathon.mesos.thisdcos.directory', 'A', { id })), [
      ...stored.slice(k),
      ...stored.slice(0, k),
    ]);
  }
  // Leading CNAMEs keep their order, only the rest rotates.
  const chain = rrs(ask('c1.component.thisdcos.directory', 'A', { id: 2 }).answers).map((r) =>
    String(r.data),
  );
  assert.deepEqual(chain.slice(3), [...stored.slice(2), ...stored.slice(0, 2)]);
  const rnd = zones('random');
  const orders = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const got = ips(ask('five.marathon.mesos.thisdcos.directory', 'A', { id: 1 }, rnd));
    assert.deepEqual([...got].sort(), stored);
    orders.add(got.join());
  }
  assert.ok(orders.size > 5);
  const off = zones('disabled');
  for (let id = 0; id < 5; id++)
    assert.deepEqual(ips(ask('five.marathon.mesos.thisdcos.directory', 'A', { id }, off)), stored);
});

test('truncation: 128 A over UDP → TC with what fits; EDNS0 4096 or TCP → all 128', () => {
  const z = new ZoneResponder();
  z.setZone('big.thisdcos.directory', {
    a: m([
      [
        'many.big.thisdcos.directory',
        Array.from({ length: 128 }, (_, i) => `10.1.${i >> 8}.${(i & 255) + 1}`),
      ],
    ]),
  });
  const q = parsed(queryBytes('many.big.thisdcos.directory', 'A'));
  const plain = z.answer(q, udp);
  assert.ok(plain.length <= 512);
  assert.ok(flagsOf(decode(plain)).tc);
  const e = decode(z.answer(parsed(queryBytes('many.big.thisdcos.directory', 'A', { edns: 4096 })), udp));
  assert.equal(e.answers?.filter((r) => r.type === 'A').length, 128);
  assert.ok(!flagsOf(e).tc);
  const t = decode(z.answer(q, { transport: 'tcp', maxUdpSize: 65535 }));
  assert.equal(t.answers?.length, 128);
});

test('setZone replaces a zone atomically, rejects names outside it (keeping the old zone), deleteZone', () => {
  const z = zones();
  z.setZone('l4lb.thisdcos.directory', {
    a: m([['new.marathon.l4lb.thisdcos.directory', ['198.51.100.8']]]),
  });
  assert.equal(rcodeOf(ask('web.marathon.l4lb.thisdcos.directory', 'A', {}, z)), 'NXDOMAIN');
  assert.throws(
    () => z.setZone('l4lb.thisdcos.directory', { a: m([['evil.example.com', ['192.0.2.1']]]) }),
    /l4lb.thisdcos.directory.*a record "evil.example.com" is outside the zone/,
  );
  assert.deepEqual(rrs(ask('new.marathon.l4lb.thisdcos.directory', 'A', {}, z).answers).length, 1);
  assert.throws(
    () => z.setZone('x.thisdcos.directory', { a: m([['a.x.thisdcos.directory', ['300.1.1.1']]]) }),
    /IPv4/,
  );
  assert.ok(z.deleteZone('l4lb.thisdcos.directory'));
  assert.equal(rcodeOf(ask('new.marathon.l4lb.thisdcos.directory', 'A', {}, z)), 'REFUSED');
});

// §1.2 routing table.
const routes: [string, string, string?][] = [
  ['a.marathon.dclb.thisdcos.directory.', 'internal l4lb.thisdcos.directory. dclb.thisdcos.directory.'],
  ['a.marathon.dclb.thisdcos.global.', 'internal l4lb.thisdcos.directory. dclb.thisdcos.global.'],
  ['leader.mesos.thisdcos.global.', 'internal mesos.thisdcos.directory. mesos.thisdcos.global.'],
  ['x.l4lb.abcd1234.dcos.directory.', 'internal l4lb.thisdcos.directory. l4lb.abcd1234.dcos.directory.'],
  ['x.l4lb.otherid.dcos.directory.', 'upstream .'],
  ['leader.mesos.', 'mesos mesos.'],
  ['localhost.', 'internal localhost.'],
  ['zk-1.zk.', 'internal zk.'],
  ['ready.spartan.', 'internal spartan.'],
  ['a.b.dcos.thisdcos.directory.', 'internal dcos.thisdcos.directory.'],
  ['foo.unknownzone.thisdcos.directory.', 'internal unknownzone.thisdcos.directory.'],
  ['thisdcos.directory.', 'upstream .'],
  ['www.corp.example.', 'forward corp.example.'],
  ['www.deep.corp.example.', 'forward deep.corp.example.'],
  ['www.example.com.', 'upstream .'],
];

for (const [name, want] of routes) {
  test(`route ${name} → ${want}`, () => {
    const r = routeDcosDns(name, 'abcd1234', ['corp.example.', 'deep.corp.example.']);
    const got = [r.kind, r.zone, ...('rename' in r && r.rename ? [r.rename.external] : [])].join(' ');
    assert.equal(got, want);
  });
}

test('router: aliases answer from the internal zone with every name renamed back (l4lb_rename)', async () => {
  const z = zones();
  z.setZone('l4lb.thisdcos.directory', {
    a: m([['web.marathon.l4lb.thisdcos.directory', ['198.51.100.7']]]),
    cname: m([['alias.l4lb.thisdcos.directory', 'web.marathon.l4lb.thisdcos.directory']]),
  });
  const router = createDcosDnsRouter({ zones: z, clusterId: 'abcd1234', upstreams: [], cache: false });
  const run = async (name: string, type = 'A'): Promise<Packet> => {
    const bytes = queryBytes(name, type);
    const ctx: HandlerContext = {
      transport: 'udp',
      remoteAddress: '127.0.0.1',
      remotePort: 1,
      maxUdpSize: 512,
      zone: '.',
    };
    const out = await router(bytes, parsed(bytes), ctx);
    return decode(out!);
  };
  for (const alias of [
    'dclb.thisdcos.directory',
    'dclb.thisdcos.global',
    'l4lb.thisdcos.global',
    'l4lb.abcd1234.dcos.directory',
  ]) {
    const p = await run(`web.marathon.${alias}`);
    assert.deepEqual(rrs(p.answers).map(line), [`web.marathon.${alias} 5 A 198.51.100.7`], alias);
    const c = await run(`alias.${alias}`);
    assert.deepEqual(rrs(c.answers).map(line), [
      `alias.${alias} 5 CNAME web.marathon.${alias}`,
      `web.marathon.${alias} 5 A 198.51.100.7`,
    ]);
    const nx = await run(`nothere.${alias}`);
    assert.equal(rcodeOf(nx), 'NXDOMAIN');
    assert.equal(rrs(nx.authorities)[0]!.name, alias);
    assert.deepEqual((rrs(nx.authorities)[0]!.data as { mname: string }).mname, 'ns.spartan');
  }
  const mesos = await run('leader.mesos');
  assert.equal(rcodeOf(mesos), 'SERVFAIL', '.mesos without masters: SERVFAIL at once');
  assert.ok(mesos.type === 'response');
});

test('built replies are reused per name/type/rotation: ID, RD and question case patched; zone changes drop them', () => {
  const z = zones();
  const first = ask('five.marathon.mesos.thisdcos.directory', 'A', { id: 3 }, z);
  const again = ask('FIVE.Marathon.mesos.thisdcos.directory', 'A', { id: 8, rd: false }, z);
  assert.equal(again.id, 8);
  assert.equal(again.questions?.[0]?.name, 'FIVE.Marathon.mesos.thisdcos.directory');
  assert.ok(!flagsOf(again).rd);
  const data = (p: Packet) => rrs(p.answers).map((r) => String(r.data));
  assert.deepEqual(data(again), data(first), 'same rotation (3 ≡ 8 mod 5)');
  assert.equal(
    rrs(again.answers)[0]!.name,
    'FIVE.Marathon.mesos.thisdcos.directory',
    'owner is the question',
  );
  z.setZone('mesos.thisdcos.directory', {
    a: m([['five.marathon.mesos.thisdcos.directory', ['192.0.2.99']]]),
  });
  assert.deepEqual(rrs(ask('five.marathon.mesos.thisdcos.directory', 'A', { id: 3 }, z).answers).map(line), [
    'five.marathon.mesos.thisdcos.directory 5 A 192.0.2.99',
  ]);
  z.deleteZone('mesos.thisdcos.directory');
  assert.equal(rcodeOf(ask('five.marathon.mesos.thisdcos.directory', 'A', { id: 3 }, z)), 'REFUSED');
  const edns = ask('ready.spartan', 'A', { edns: 1232 }, z);
  assert.equal(edns.additionals?.filter((r) => r.type === 'OPT').length, 1);
  assert.equal(ask('ready.spartan', 'A', {}, z).additionals?.length ?? 0, 0, 'no OPT echo for a plain query');
});
