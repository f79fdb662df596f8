// TestInsertState (specs/mesos-dns.md §6.2): the upstream generator table for all five IPSources
// configurations, plus the fixed upstream defects: over-long names never reach the record set,
// host names in `masters` never crash, and the /v1/enumerate tree follows insertion order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMesosState, parsePortRanges } from '../../src/cluster/index.js';
import {
  generateRecords,
  OneValue,
  portsOf,
  servableName,
  type RecordSet,
} from '../../src/dns/mesos/index.js';
import { fixture } from '../helpers/fixtures.js';

const state = () => {
  const doc = JSON.parse(fixture('mesos-dns/fake.json')) as Record<string, unknown>;
  return parseMesosState({ ...doc, leader: 'master@144.76.157.37:5050' });
};

const gen = (ipSources: string[]): RecordSet =>
  generateRecords(
    state(),
    {
      domain: 'mesos',
      soaMname: 'mesos-dns.mesos.',
      listenerAddrs: ['127.0.0.1'],
      spec: 'rfc952',
      ipSources,
      masters: ['144.76.157.37:5050'],
    },
    (host) => (host === 'localhost' ? ['127.0.0.1'] : []),
  );

type Row = [gen: string, map: 'A' | 'AAAA' | 'SRV', name: string, values: string[]];
const L = 'liquor-store-4dfjd-0.marathon.mesos.';
const Z = 'liquor-store-zasmd-1.marathon.mesos.';
const CAR = 'car-store-zinaz-0.marathon.slave.mesos.';
const TABLE: Row[] = [
  ['rg', 'A', 'big-dog.marathon.mesos.', ['10.3.0.1']],
  ['rg', 'A', 'liquor-store.marathon.mesos.', ['10.3.0.1', '10.3.0.2']],
  ['rg', 'A', 'liquor-store.marathon.slave.mesos.', ['1.2.3.11', '1.2.3.12']],
  ['rg', 'A', 'car-store.marathon.slave.mesos.', ['1.2.3.11']],
  ['rg', 'A', 'nginx.marathon.mesos.', ['10.3.0.3']],
  ['rg', 'A', 'poseidon.marathon.mesos.', []],
  ['rg', 'A', 'poseidon.marathon.slave.mesos.', []],
  ['rg', 'A', 'master.mesos.', ['144.76.157.37']],
  ['rg', 'A', 'master0.mesos.', ['144.76.157.37']],
  ['rg', 'A', 'leader.mesos.', ['144.76.157.37']],
  ['rg', 'A', 'slave.mesos.', ['1.2.3.10', '1.2.3.11', '1.2.3.12']],
  ['rg', 'A', 'some-box.chronoswithaspaceandmixe.mesos.', ['1.2.3.11']],
  ['rg', 'A', 'marathon.mesos.', ['1.2.3.11']],
  ['rg', 'AAAA', 'toy-store.ipv6-framework.mesos.', ['fd01:b::1:8000:2']],
  ['rg', 'AAAA', 'toy-store.ipv6-framework.slave.mesos.', ['2001:db8::1']],
  ['rg', 'AAAA', 'ipv6-framework.mesos.', ['2001:db8::1']],
  ['rg', 'AAAA', 'slave.mesos.', ['2001:db8::1']],
  [
    'rg',
    'SRV',
    '_big-dog._tcp.marathon.mesos.',
    ['big-dog-4dfjd-0.marathon.mesos.:80', 'big-dog-4dfjd-0.marathon.mesos.:443'],
  ],
  ['rg', 'SRV', '_poseidon._tcp.marathon.mesos.', []],
  ['rg', 'SRV', '_leader._tcp.mesos.', ['leader.mesos.:5050']],
  ['rg', 'SRV', '_liquor-store._tcp.marathon.mesos.', [`${L}:80`, `${L}:443`, `${Z}:80`, `${Z}:443`]],
  ['rg', 'SRV', '_liquor-store._udp.marathon.mesos.', []],
  ['rg', 'SRV', '_liquor-store.marathon.mesos.', []],
  ['rg', 'SRV', '_https._liquor-store._tcp.marathon.mesos.', [`${L}:443`, `${Z}:443`]],
  ['rg', 'SRV', '_http._liquor-store._tcp.marathon.mesos.', [`${L}:80`, `${Z}:80`]],
  ['rg', 'SRV', '_car-store._tcp.marathon.mesos.', [`${CAR}:31364`, `${CAR}:31365`]],
  ['rg', 'SRV', '_car-store._udp.marathon.mesos.', [`${CAR}:31364`, `${CAR}:31365`]],
  ['rg', 'SRV', '_slave._tcp.mesos.', ['slave.mesos.:5051']],
  ['rg', 'SRV', '_framework._tcp.marathon.mesos.', ['marathon.mesos.:25501']],
  ['rgSlave', 'A', 'liquor-store.marathon.mesos.', ['1.2.3.11', '1.2.3.12']],
  ['rgSlave', 'A', 'liquor-store.marathon.slave.mesos.', ['1.2.3.11', '1.2.3.12']],
  ['rgSlave', 'A', 'nginx.marathon.mesos.', ['1.2.3.11']],
  ['rgSlave', 'A', 'car-store.marathon.slave.mesos.', ['1.2.3.11']],
  ['rgSlave', 'AAAA', 'toy-store.ipv6-framework.mesos.', ['2001:db8::1']],
  ['rgSlave', 'AAAA', 'toy-store.ipv6-framework.slave.mesos.', ['2001:db8::1']],
  ['rgMesos', 'A', 'liquor-store.marathon.mesos.', ['1.2.3.11', '1.2.3.12']],
  ['rgMesos', 'A', 'liquor-store.marathon.slave.mesos.', ['1.2.3.11', '1.2.3.12']],
  ['rgMesos', 'A', 'nginx.marathon.mesos.', ['10.3.0.3']],
  ['rgMesos', 'A', 'car-store.marathon.slave.mesos.', ['1.2.3.11']],
  ['rgMesos', 'AAAA', 'toy-store.ipv6-framework.mesos.', ['2001:db8::1']],
  ['rgMesos', 'AAAA', 'toy-store.ipv6-framework.slave.mesos.', ['2001:db8::1']],
  ['rgNetinfo', 'A', 'toy-store.ipv6-framework.mesos.', ['12.0.1.3', '12.0.1.2']],
  ['rgNetinfo', 'AAAA', 'toy-store.ipv6-framework.mesos.', ['fd01:b::1:8000:2']],
  ['rgNetinfo', 'AAAA', 'toy-store.ipv6-framework.slave.mesos.', ['2001:db8::1']],
  ['rgDocker', 'A', 'liquor-store.marathon.mesos.', ['10.3.0.1', '10.3.0.2']],
  ['rgDocker', 'A', 'liquor-store.marathon.slave.mesos.', ['1.2.3.11', '1.2.3.12']],
  ['rgDocker', 'A', 'nginx.marathon.mesos.', ['1.2.3.11']],
  ['rgDocker', 'A', 'car-store.marathon.slave.mesos.', ['1.2.3.11']],
  ['rgDocker', 'AAAA', 'toy-store.ipv6-framework.mesos.', ['2001:db8::1']],
  ['rgDocker', 'AAAA', 'toy-store.ipv6-framework.slave.mesos.', ['2001:db8::1']],
];

test('TestInsertState: the upstream table for all five IPSources configurations', () => {
  const generators: Record<string, RecordSet> = {
    rg: gen(['netinfo', 'docker', 'mesos', 'host']),
    rgDocker: gen(['docker', 'host']),
    rgMesos: gen(['mesos', 'host']),
    rgSlave: gen(['host']),
    rgNetinfo: gen(['netinfo']),
  };
  for (const [g, kind, name, values] of TABLE) {
    const rs = generators[g]!;
    const map = kind === 'A' ? rs.a : kind === 'AAAA' ? rs.aaaa : rs.srv;
    assert.deepEqual([...(map.get(name) ?? [])].sort(), [...values].sort(), `${g} ${kind} ${name}`);
  }
  assert.equal(new Set(TABLE.map((r) => r[0])).size, 5);
});

test('enumeration: every framework, eligible tasks only, records in generation order, only new ones', () => {
  const rs = generateRecords(
    state(),
    {
      domain: 'mesos',
      soaMname: 'ns1.mesos.',
      listenerAddrs: [],
      spec: 'rfc952',
      ipSources: ['netinfo', 'docker', 'mesos', 'host'],
      masters: [],
    },
    () => [],
    { enumerate: true },
  );
  const fws = rs.frameworks!;
  assert.deepEqual(
    fws.map((f) => f.name),
    ['ipv6-framework', 'chronos with a space AND MIXED CASE-2.0.1', 'no pid', 'marathon'],
  );
  assert.deepEqual(fws[2]!.tasks, []);
  const marathon = fws[3]!;
  assert.ok(!marathon.tasks.some((t) => t.name.startsWith('poseidon')), 'killed task not listed');
  const car = marathon.tasks.find((t) => t.name === 'car.store')!;
  assert.equal(car.id, 'car-store.43758382-562f-11e4-a088-c20493233aa5');
  assert.deepEqual(car.records.slice(0, 5), [
    { name: 'car-store.marathon.mesos.', host: '1.2.3.11', rtype: 'A' },
    { name: 'car-store-zinaz-0.marathon.mesos.', host: '1.2.3.11', rtype: 'A' },
    { name: 'car-store.marathon.slave.mesos.', host: '1.2.3.11', rtype: 'A' },
    { name: 'car-store-zinaz-0.marathon.slave.mesos.', host: '1.2.3.11', rtype: 'A' },
    { name: '_car-store._tcp.marathon.slave.mesos.', host: `${CAR}:31364`, rtype: 'SRV' },
  ]);
  // Every listed record exists, and no (name, value) pair is listed twice across tasks.
  const seen = new Set<string>();
  for (const t of fws.flatMap((f) => f.tasks)) {
    for (const r of t.records) {
      const key = `${r.rtype} ${r.name} ${r.host}`;
      assert.ok(!seen.has(key), key);
      seen.add(key);
      const map = r.rtype === 'A' ? rs.a : r.rtype === 'AAAA' ? rs.aaaa : rs.srv;
      assert.ok(map.get(r.name)?.has(r.host), key);
    }
  }
  // Both tasks sharing the id of `liquor.store`: the second lists only what was new.
  const bigDog = marathon.tasks.find((t) => t.name === 'big.dog2')!;
  assert.ok(bigDog.records.every((r) => r.name.includes('big')));
});

const longState = (taskName: string, diName?: string, portName?: string) =>
  parseMesosState({
    leader: 'master@192.0.2.1:5050',
    slaves: [{ id: 'agent-S1', pid: 'slave(1)@192.0.2.11:5051' }],
    frameworks: [
      {
        name: 'marathon',
        pid: 'scheduler@192.0.2.1:8080',
        tasks: [
          {
            id: 'task.1',
            name: taskName,
            slave_id: 'agent-S1',
            state: 'TASK_RUNNING',
            resources: { ports: '[31000-31000]' },
            ...(diName !== undefined && {
              discovery: {
                name: diName,
                ports: { ports: [{ number: 80, protocol: 'tcp', name: portName ?? 'http' }] },
              },
            }),
          },
        ],
      },
    ],
  });

const allNames = (rs: RecordSet): string[] => [
  ...rs.a.keys(),
  ...rs.aaaa.keys(),
  ...rs.srv.keys(),
  ...[...rs.srv.values()].flatMap((s) => [...s].map((v) => v.slice(0, v.lastIndexOf(':')))),
];

const cfg = {
  domain: 'mesos',
  soaMname: 'ns1.mesos.',
  listenerAddrs: [],
  spec: 'rfc1123' as const,
  ipSources: ['host'],
  masters: [],
};

test('names over 63 octets (upstream #522, #432): shortened to legal labels, never stored unservable', () => {
  const name = 'a'.repeat(63);
  const rs = generateRecords(longState(name), cfg);
  for (const n of allNames(rs)) assert.ok(servableName(n), n);
  // The plain name keeps its 63-character label; the canonical and SRV labels are cut to fit.
  assert.deepEqual([...rs.a.get(`${name}.marathon.mesos.`)!], ['192.0.2.11']);
  const srv = [...rs.srv.keys()].find((n) => n.endsWith('._tcp.marathon.slave.mesos.'))!;
  assert.equal(srv.split('.')[0]!.length, 63);
  const [target] = [...rs.srv.get(srv)!];
  const canonical = target!.split('.')[0]!;
  assert.equal(canonical.length, 63);
  assert.match(canonical, /^a+-[a-z0-9]{5}-s1$/);
  assert.deepEqual([...rs.a.get(target!.slice(0, target!.lastIndexOf(':')))!], ['192.0.2.11']);
});

test('an over-long raw DiscoveryInfo name skips only the legacy pass; named ports get legal labels', () => {
  const di = `${'B'.repeat(70)}.x`;
  const rs = generateRecords(longState('t', di, 'p'.repeat(63)), cfg);
  for (const n of allNames(rs)) assert.ok(servableName(n), n);
  assert.ok(
    rs.skipped.some((n) => n.startsWith('B')),
    'the raw name is reported',
  );
  assert.ok(rs.a.has(`${'b'.repeat(63)}.marathon.mesos.`), 'the sanitised pass still makes records');
  const named = [...rs.srv.keys()].filter((n) => n.startsWith('_p'));
  assert.equal(named.length, 1);
  assert.equal(named[0]!.split('.')[0]!.length, 63);
});

test('servableName: label and name limits in octets', () => {
  assert.ok(servableName('a.mesos.'));
  assert.ok(!servableName(`${'a'.repeat(64)}.mesos.`));
  assert.ok(servableName(`${'a'.repeat(63)}.mesos.`));
  assert.ok(!servableName('a..mesos.'));
  assert.ok(!servableName(`${'é'.repeat(32)}.mesos.`), '64 octets in 32 characters');
  assert.ok(!servableName(`${'abcdefghi.'.repeat(26)}mesos.`));
});

test('unresolvable agents (upstream #509) and bad pids make no records, not invalid A values', () => {
  const rs = generateRecords(
    parseMesosState({
      leader: 'master@192.0.2.1:5050',
      slaves: [
        { id: 'a-S1', pid: 'slave(1)@agent1.example:5051' },
        { id: 'a-S2', pid: 'garbage' },
      ],
      frameworks: [
        {
          name: 'fw',
          tasks: [
            {
              id: 'x',
              name: 'web',
              slave_id: 'a-S1',
              state: 'TASK_RUNNING',
              resources: { ports: '[31000]' },
            },
          ],
        },
      ],
    }),
    cfg,
  );
  assert.ok(!rs.a.has('slave.mesos.'));
  assert.ok(!rs.a.has('web.fw.slave.mesos.'));
  // The bare-number port range (crashed upstream) is one port.
  assert.equal(rs.srv.get('_web._tcp.fw.slave.mesos.')?.size, 1);
});

test('a 63-character task name still gets DNS replies (upstream sent none: "bad rdata")', async () => {
  const { MesosResponder, parseQuery } = await import('../../src/dns/server/index.js');
  const dnsPacket = (await import('dns-packet')).default;
  const name = 'a'.repeat(63);
  const rs = generateRecords(longState(name), cfg);
  const responder = new MesosResponder({ domain: 'mesos' });
  responder.setRecords(rs, 1);
  const ask = (qname: string, type: 'A' | 'SRV') => {
    const parsed = parseQuery(
      Buffer.from(dnsPacket.encode({ id: 7, type: 'query', questions: [{ name: qname, type }] })),
    );
    assert.ok(parsed?.ok);
    const reply = responder.answer(parsed.query, { transport: 'udp', maxUdpSize: 512 });
    const d = dnsPacket.decode(reply) as unknown as {
      answers: { data: unknown }[];
      additionals: { data: unknown }[];
    };
    return { rcode: reply.readUInt16BE(2) & 0xf, answers: d.answers, additionals: d.additionals };
  };
  const srvName = [...rs.srv.keys()].find((n) => n.endsWith('._tcp.marathon.slave.mesos.'))!;
  const srv = ask(srvName, 'SRV');
  assert.equal(srv.rcode, 0);
  assert.equal(srv.answers?.length, 1);
  const target = (srv.answers![0]!.data as { target: string }).target;
  assert.equal(target.split('.')[0]!.length, 63);
  assert.deepEqual(
    srv.additionals?.map((r) => r.data),
    ['192.0.2.11'],
  );
  assert.deepEqual(
    ask(`${name}.marathon.mesos.`, 'A').answers?.map((r) => r.data),
    ['192.0.2.11'],
  );
});

test('a leader pid with a host name (upstream: panic) uses its first resolved address', () => {
  const rs = generateRecords(
    parseMesosState({ leader: 'master@mesos1.example:5050' }),
    { ...cfg, masters: ['192.0.2.1:5050'] },
    (h) => (h === 'mesos1.example' ? ['192.0.2.1', '2001:db8::1'] : []),
  );
  assert.deepEqual([...rs.a.get('leader.mesos.')!], ['192.0.2.1']);
  assert.deepEqual([...rs.a.get('master.mesos.')!], ['192.0.2.1']);
  assert.deepEqual([...rs.srv.get('_leader._tcp.mesos.')!], ['leader.mesos.:5050']);
  assert.deepEqual(
    generateRecords(parseMesosState({ leader: 'master@unknown.example:5050' }), cfg).a.size,
    0,
  );
});

test('single-value names use OneValue, a read-only Set look-alike; a second value makes a real Set', () => {
  const rs = gen(['netinfo', 'docker', 'mesos', 'host']);
  const one = rs.a.get('car-store-zinaz-0.marathon.mesos.')!;
  assert.ok(one instanceof OneValue);
  assert.equal(one.size, 1);
  assert.ok(one.has('1.2.3.11') && !one.has('1.2.3.12'));
  assert.deepEqual([...one], ['1.2.3.11']);
  assert.deepEqual([...one.values()], ['1.2.3.11']);
  assert.deepEqual([...one.keys()], ['1.2.3.11']);
  assert.deepEqual([...one.entries()], [['1.2.3.11', '1.2.3.11']]);
  const seen: string[] = [];
  one.forEach((v) => seen.push(v));
  assert.deepEqual(seen, ['1.2.3.11']);
  const many = rs.a.get('slave.mesos.')!;
  assert.ok(many instanceof Set);
  assert.deepEqual([...many], ['1.2.3.10', '1.2.3.11', '1.2.3.12'], 'insertion order kept');
});

test('host ports: the fast scanner agrees with parsePortRanges on every shape', () => {
  for (const text of [
    undefined,
    '',
    '[]',
    '[31000-31001, 31005-31005]',
    '[31000]',
    '[1-3,5-5]',
    'junk',
    '[ 7-8 ]',
    '[31000-31001, x-2, 4-4]',
    '[5-3]',
    '31000-31001',
    '[10-11]trailing',
  ])
    assert.deepEqual(portsOf(text), parsePortRanges(text), JSON.stringify(text));
});
