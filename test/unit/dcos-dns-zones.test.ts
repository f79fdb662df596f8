// dcos-dns zones: the §1.8 table of dcos-net (which address each container/network combination
// gets under agentip/containerip/autoip), the mesos mirror renaming, zk slots, store format and
// the coalescing publisher.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMesosState } from '../../src/cluster/index.js';
import {
  dcosZone,
  mesosMirrorZone,
  zkZone,
  spartanZone,
  thisnodeZone,
  emptyZone,
  addAddress,
  serializeZone,
  parseStoredZone,
  zoneFingerprint,
  ZonePublisher,
  zoneKey,
  NodeZones,
  registerDcosDnsRoutes,
} from '../../src/dns/dcos/index.js';
import { eventually } from '../helpers/eventually.js';
import { EmbeddedStore } from '../../src/store/index.js';
import { testLogger } from '../helpers/log.js';

const AGENT = '10.0.0.1';
const ni = (ip: string) => [
  { container_status: { network_infos: [{ ip_addresses: [{ ip_address: ip }] }] } },
];
const task = (name: string, ip: string, extra: Record<string, unknown> = {}, state = 'TASK_RUNNING') => ({
  id: `${name}.1`,
  name,
  slave_id: 'S1',
  state,
  statuses: ni(ip).map((s) => ({ state, timestamp: 2, ...s })),
  ...extra,
});

const state = parseMesosState({
  leader: 'master@10.0.0.100:5050',
  slaves: [{ id: 'S1', pid: `slave(1)@${AGENT}:5051` }],
  frameworks: [
    {
      name: 'Marathon',
      tasks: [
        task('host-app', AGENT, { resources: { ports: '[31000-31000]' } }),
        task('ucr-bridge', '172.31.254.2', {
          resources: { ports: '[31001-31001]' },
          container: {
            type: 'MESOS',
            network_infos: [
              { name: 'mesos-bridge', port_mappings: [{ host_port: 31001, container_port: 80 }] },
            ],
          },
        }),
        task('docker-bridge', '172.17.0.2', {
          container: {
            type: 'DOCKER',
            docker: { port_mappings: [{ host_port: 31002, container_port: 80 }] },
          },
        }),
        task('overlay', '9.0.1.2', { container: { type: 'MESOS', network_infos: [{ name: 'dcos' }] } }),
        task('docker6', 'fd01:b::2:8000:0:2', {
          container: { type: 'DOCKER', network_infos: [{ name: 'dcos6' }] },
        }),
        task('myapp.mygroup', '9.0.1.3', { discovery: { name: 'myapp.mygroup' } }),
        task('staging', '9.0.1.4', {}, 'TASK_STAGING'),
        task('killing', '9.0.1.5', {}, 'TASK_KILLING'),
      ],
    },
  ],
});

const zone = dcosZone({ state, leaderIp: '10.0.0.100', masterIps: ['10.0.0.100', '10.0.0.101'] });
const D = 'marathon.%s.dcos.thisdcos.directory.';
const name = (app: string, kind: string): string => `${app}.${D.replace('%s', kind)}`;
const get = (map: Map<string, Set<string>>, n: string): string[] => [...(map.get(n) ?? [])].sort();

const TABLE: Array<[string, string, string, string, 'a' | 'aaaa']> = [
  // app, agentip, containerip, autoip, family of container/auto
  ['host-app', AGENT, AGENT, AGENT, 'a'],
  ['ucr-bridge', AGENT, '172.31.254.2', AGENT, 'a'],
  ['docker-bridge', AGENT, '172.17.0.2', AGENT, 'a'],
  ['overlay', AGENT, '9.0.1.2', '9.0.1.2', 'a'],
  ['docker6', AGENT, 'fd01:b::2:8000:0:2', 'fd01:b::2:8000:0:2', 'aaaa'],
];
for (const [app, agentip, containerip, autoip, fam] of TABLE) {
  test(`dcos zone §1.8 table: ${app}`, () => {
    assert.deepEqual(get(zone.a, name(app, 'agentip')), [agentip]);
    assert.deepEqual(get(zone[fam], name(app, 'containerip')), [containerip]);
    assert.deepEqual(get(zone[fam], name(app, 'autoip')), [autoip]);
  });
}

test('dcos zone: names sanitised as dcos-net does, only running tasks, leader and masters', () => {
  assert.deepEqual(get(zone.a, name('myapp-mygroup', 'autoip')), ['9.0.1.3']);
  assert.ok(![...zone.a.keys()].some((n) => n.startsWith('staging.') || n.startsWith('killing.')));
  assert.deepEqual(get(zone.a, 'leader.dcos.thisdcos.directory.'), ['10.0.0.100']);
  assert.deepEqual(get(zone.a, 'master.dcos.thisdcos.directory.'), ['10.0.0.100', '10.0.0.101']);
  assert.equal(zone.srv.size, 0, 'no SRV records in dcos.thisdcos.directory');
});

test('dcos zone: an agent known only by host name uses the resolved address, unresolved ones are skipped', () => {
  const s = parseMesosState({
    slaves: [
      { id: 'S1', pid: 'slave(1)@agent-1.example:5051' },
      { id: 'S2', pid: 'slave(1)@agent-2.example:5051' },
    ],
    frameworks: [{ name: 'm', tasks: [task('a', '9.0.0.9'), { ...task('b', '9.0.0.8'), slave_id: 'S2' }] }],
  });
  const z = dcosZone({ state: s, masterIps: [], resolved: new Map([['agent-1.example', '10.9.9.9']]) });
  assert.deepEqual(get(z.a, 'a.m.agentip.dcos.thisdcos.directory.'), ['10.9.9.9']);
  assert.equal(z.a.has('b.m.agentip.dcos.thisdcos.directory.'), false);
});

test('mesos mirror renames owners and SRV targets into mesos.thisdcos.directory', () => {
  const z = mesosMirrorZone(
    {
      a: new Map([
        ['leader.mesos.', new Set(['1.2.3.4'])],
        ['elsewhere.example.', new Set(['5.6.7.8'])],
      ]),
      aaaa: new Map([['agent.mesos.', new Set(['fd00::1'])]]),
      srv: new Map([['_leader._tcp.mesos.', new Set(['leader.mesos.:5050'])]]),
    },
    'mesos',
  );
  assert.deepEqual([...z.a.keys()], ['leader.mesos.thisdcos.directory.']);
  assert.deepEqual(get(z.aaaa, 'agent.mesos.thisdcos.directory.'), ['fd00::1']);
  assert.deepEqual(get(z.srv, '_leader._tcp.mesos.thisdcos.directory.'), [
    'leader.mesos.thisdcos.directory.:5050',
  ]);
});

test('zk zone fills five slots by repeating masters; empty without masters', () => {
  const z = zkZone(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((i) => get(z.a, `zk-${i}.zk.`)[0]),
    ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2'],
  );
  assert.equal(zkZone([]).a.size, 0);
  assert.deepEqual(get(spartanZone().a, 'ready.spartan.'), ['127.0.0.1']);
  assert.deepEqual(get(spartanZone().a, 'ns.spartan.'), ['198.51.100.1']);
  assert.deepEqual(get(thisnodeZone('10.0.0.7').a, 'thisnode.thisdcos.directory.'), ['10.0.0.7']);
});

test('store format round-trips and rejects bad values naming the field', () => {
  const z = emptyZone();
  addAddress(z, 'x.dcos.thisdcos.directory.', '10.0.0.1');
  addAddress(z, 'x.dcos.thisdcos.directory.', 'fd00::1');
  z.srv.set('_x._tcp.mesos.thisdcos.directory.', new Set(['x.mesos.thisdcos.directory.:80']));
  const back = parseStoredZone(serializeZone('dcos.thisdcos.directory', z, 5));
  assert.equal(back.origin, 'dcos.thisdcos.directory');
  assert.equal(zoneFingerprint(back.records), zoneFingerprint(z));
  assert.throws(() => parseStoredZone('{'), /not JSON/);
  assert.throws(
    () => parseStoredZone(JSON.stringify({ origin: 'o', at: 1, a: { 'x.o.': ['not-an-ip'] } })),
    /a\.x\.o\.\.0: an IP address|a.x.o..0/,
  );
  assert.throws(
    () => parseStoredZone(JSON.stringify({ origin: 'o', at: 1, a: { NoDot: ['1.2.3.4'] } })),
    /a\.NoDot/,
  );
});

test('publisher coalesces, skips unchanged zones and honours the fence', async () => {
  const store = await EmbeddedStore.open({});
  let leading = true;
  const pub = new ZonePublisher({
    store,
    log: testLogger(),
    minIntervalMs: 50,
    fence: () => (leading ? [] : [{ key: 'fence', target: 'version', result: 'greater', value: 0 }]),
  });
  try {
    const z1 = emptyZone();
    addAddress(z1, 'a.dcos.thisdcos.directory.', '10.0.0.1');
    const z2 = emptyZone();
    addAddress(z2, 'a.dcos.thisdcos.directory.', '10.0.0.2');
    pub.publish('dcos.thisdcos.directory', z1);
    pub.publish('dcos.thisdcos.directory', z2); // coalesced: only z2 is written
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(pub.counts.writes, 1);
    const kv = await store.get(zoneKey('dcos.thisdcos.directory'));
    assert.deepEqual(get(parseStoredZone(kv!.value).records.a, 'a.dcos.thisdcos.directory.'), ['10.0.0.2']);
    pub.publish('dcos.thisdcos.directory', z2);
    await pub.flushAll();
    assert.equal(pub.counts.unchanged, 1);
    leading = false;
    pub.publish('dcos.thisdcos.directory', z1);
    await pub.flushAll();
    const after = await store.get(zoneKey('dcos.thisdcos.directory'));
    assert.equal(after!.modRevision, kv!.modRevision, 'a fenced-out publisher writes nothing');
  } finally {
    pub.close();
    await store.close();
  }
});

test('node zones: local zones at once, gossiped zones from the store, a bad value keeps the old copy', async () => {
  const store = await EmbeddedStore.open({});
  const zones = new Map<string, string>();
  const sink = {
    setZone: (origin: string, records: ReturnType<typeof emptyZone>) =>
      zones.set(origin, zoneFingerprint(records)),
    deleteZone: (origin: string) => zones.delete(origin),
  };
  const node = new NodeZones({ sink, store, log: testLogger(), privateIp: '10.0.0.9' });
  try {
    await node.start();
    assert.deepEqual([...zones.keys()].sort(), ['localhost', 'spartan', 'thisnode.thisdcos.directory', 'zk']);
    const good = emptyZone();
    addAddress(good, 'leader.dcos.thisdcos.directory.', '10.0.0.100');
    await store.put(zoneKey('dcos.thisdcos.directory'), serializeZone('dcos.thisdcos.directory', good, 1));
    await eventually(async () => assert.equal(zones.get('dcos.thisdcos.directory'), zoneFingerprint(good)));
    await store.put(
      zoneKey('dcos.thisdcos.directory'),
      '{"origin":"dcos.thisdcos.directory","at":2,"a":{"x.":["nope"]}}',
    );
    await store.put(zoneKey('evil.example'), serializeZone('evil.example', good, 1));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(zones.get('dcos.thisdcos.directory'), zoneFingerprint(good), 'the good copy stays');
    assert.equal(zones.has('evil.example'), false, 'only gossiped zones are taken from the store');
    node.setMasters(['10.0.0.100']);
    assert.ok(zones.get('zk')!.includes('zk-5.zk.'));
    await store.delete(zoneKey('dcos.thisdcos.directory'));
    await eventually(async () => assert.equal(zones.has('dcos.thisdcos.directory'), false));
  } finally {
    node.stop();
    await store.close();
  }
});

test('dcos-dns HTTP API answers from the served zones', async () => {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  const z = emptyZone();
  addAddress(z, 'web.marathon.mesos.thisdcos.directory.', '9.0.1.2');
  z.srv.set(
    '_web._tcp.marathon.mesos.thisdcos.directory.',
    new Set(['web.marathon.mesos.thisdcos.directory.:80', 'gone.mesos.thisdcos.directory.:81']),
  );
  registerDcosDnsRoutes(app, { all: () => new Map([['mesos.thisdcos.directory', z]]) }, '1.2.3');
  try {
    assert.deepEqual((await app.inject('/v1/version')).json(), { Service: 'dcos-dns', Version: '1.2.3' });
    assert.deepEqual((await app.inject('/v1/hosts/Web.Marathon.mesos.thisdcos.directory')).json(), [
      { host: 'web.marathon.mesos.thisdcos.directory.', ip: '9.0.1.2' },
    ]);
    assert.deepEqual((await app.inject('/v1/hosts/nothere.thisdcos.directory')).json(), []);
    assert.deepEqual((await app.inject('/v1/services/_web._tcp.marathon.mesos.thisdcos.directory.')).json(), [
      {
        service: '_web._tcp.marathon.mesos.thisdcos.directory.',
        host: 'web.marathon.mesos.thisdcos.directory.',
        port: 80,
        ip: '9.0.1.2',
      },
      {
        service: '_web._tcp.marathon.mesos.thisdcos.directory.',
        host: 'gone.mesos.thisdcos.directory.',
        port: 81,
      },
    ]);
    const records = (await app.inject('/v1/records')).json() as Array<{ rtype: string }>;
    assert.deepEqual(records.map((r) => r.rtype).sort(), ['A', 'SRV', 'SRV']);
    assert.equal((await app.inject('/v1/config')).statusCode, 501);
  } finally {
    await app.close();
  }
});
