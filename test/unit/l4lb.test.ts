// The L4LB's pure parts against upstream vectors and golden text: phash2 and SHA-1 VIP addresses
// (dcos_l4lb_lashup_vip_listener_SUITE), label parsing and name sanitising, the derivation from
// a Mesos state, the nftables renderer and its diffs, and the kernel read-back comparison.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMesosState } from '../../src/cluster/index.js';
import {
  allocateNamed,
  deriveVipTable,
  l4lbZoneRecords,
  parseVipTable,
  parseVipValue,
  phash2,
  vipsJson,
  vipFqdn,
  vipSchema,
  vipTableFromKvs,
  vipKey,
  VIPS_PREFIX,
  type ParsedVipTable,
  type Vip,
  type VipTable,
} from '../../src/l4lb/index.js';
import {
  driftOf,
  fillSlots,
  nodeDataplane as planeOf,
  parseKernelTable,
  renderDiff,
  NodePlane as KernelPlane,
  renderTable,
} from '../../src/kernel/index.js';
import { must, parseIpv4 } from '../../src/net/index.js';
import { fixture } from '../helpers/fixtures.js';

test('phash2 reproduces the upstream VIP vectors (TEST range 11.0.0.0-11.0.0.254)', () => {
  assert.equal(phash2('foo.bar', 254), 37);
  assert.equal(phash2('baz.qux', 254), 39);
  const test = allocateNamed(['foo.bar', 'baz.qux'], 4, { min: '11.0.0.0', max: '11.0.0.254' });
  assert.equal(test.get('foo.bar'), '11.0.0.37');
  assert.equal(test.get('baz.qux'), '11.0.0.39');
  assert.equal(phash2('', 1000), 0x08d12e65 % 1000, 'empty binary: the seed');
  // 12-byte blocks and every tail length go through the same mix.
  assert.equal(
    phash2('abcdefghijklmnopqrstuvwxyz', 2 ** 32) >>> 0,
    phash2('abcdefghijklmnopqrstuvwxyz', 2 ** 32),
  );
});

test('IPv6 named VIPs: SHA-1 of the name mod the fd01:c::/64 range', () => {
  assert.equal(allocateNamed(['qux.ipv6'], 6).get('qux.ipv6'), 'fd01:c::6d6d:9c64:fd19:f251');
});

test('DC/OS range (11.0.0.0-11.255.255.255): derived vectors', () => {
  const m = allocateNamed(['mygroupmyapp.marathon', 'redis.marathon', 'l4lbtest.marathon'], 4);
  assert.equal(m.get('mygroupmyapp.marathon'), '11.198.144.68');
  assert.equal(m.get('redis.marathon'), '11.202.66.36');
  assert.equal(m.get('l4lbtest.marathon'), '11.128.73.162');
});

test('collisions resolve from the sorted set: same answer in any order, home slots kept', () => {
  const range = { min: '11.0.0.0', max: '11.0.0.4' }; // Q = 4: collisions certain
  const names = ['a.m', 'b.m', 'c.m', 'd.m'];
  const one = allocateNamed(names, 4, range);
  const two = allocateNamed([...names].reverse(), 4, range);
  assert.deepEqual([...one].sort(), [...two].sort());
  assert.equal(new Set(one.values()).size, 4, 'all distinct');
  for (const [name, ip] of allocateNamed(['a.m'], 4, range)) {
    // A name alone at its home address keeps it when others join, unless one sorts before it there.
    const homeTakenBy = names.filter((n) => n < name && allocateNamed([n], 4, range).get(n) === ip);
    if (homeTakenBy.length === 0) assert.equal(one.get(name), ip);
  }
  assert.throws(() => allocateNamed(['a', 'b', 'c', 'd', 'e'], 4, range), /no free named VIP address/);
  assert.equal(
    allocateNamed(['foo.bar'], 4, { min: '11.0.0.0', max: '11.0.0.254' }, ['11.0.0.37']).get('foo.bar'),
    '11.0.0.38',
    'an IP VIP address is not handed to a name',
  );
});

test('VIP labels: name:port, /name:port, ip:port split at the last colon; named errors', () => {
  assert.deepEqual(parseVipValue('/my-service:5555'), { kind: 'named', name: '/my-service', port: 5555 });
  assert.deepEqual(parseVipValue('my-service:5555'), { kind: 'named', name: 'my-service', port: 5555 });
  assert.deepEqual(parseVipValue('/api.hello-world:80'), {
    kind: 'named',
    name: '/api.hello-world',
    port: 80,
  });
  assert.deepEqual(parseVipValue('192.0.2.4:5000'), { kind: 'ip', ip: '192.0.2.4', family: 4, port: 5000 });
  assert.deepEqual(parseVipValue('fd01:c::1:80'), { kind: 'ip', ip: 'fd01:c::1', family: 6, port: 80 });
  // Upstream does not recognise brackets: a named VIP.
  assert.equal((parseVipValue('[::1]:80') as { kind: string }).kind, 'named');
  assert.equal((parseVipValue('noport') as { error: string }).error, 'VIP_NO_PORT');
  assert.equal((parseVipValue('/x:0') as { error: string }).error, 'VIP_BAD_PORT');
  assert.equal((parseVipValue('/x:65536') as { error: string }).error, 'VIP_BAD_PORT');
  assert.equal((parseVipValue('/x:8o') as { error: string }).error, 'VIP_BAD_PORT');
  assert.equal((parseVipValue('/:80') as { error: string }).error, 'VIP_EMPTY_NAME');
});

test('names: domain_frag of the label and the framework under l4lb.thisdcos.directory', () => {
  const fqdn = (label: string, framework = 'marathon') => vipFqdn({ label, framework });
  assert.equal(fqdn('/mygroup/myapp'), 'mygroupmyapp.marathon.l4lb.thisdcos.directory.');
  assert.equal(fqdn('/redis'), 'redis.marathon.l4lb.thisdcos.directory.');
  assert.equal(
    fqdn('/api.hello-world', 'hello-world'),
    'api.hello-world.hello-world.l4lb.thisdcos.directory.',
  );
  assert.equal(fqdn('My_App', 'Marathon'), 'my-app.marathon.l4lb.thisdcos.directory.');
  assert.equal(fqdn('/-4abc123'), '4abc123.marathon.l4lb.thisdcos.directory.');
});

const state = () => parseMesosState(JSON.parse(fixture('l4lb/state.json')));

test('derivation: backends by network scope, health, killing; IP VIPs; IPv6; named errors', () => {
  const { table, errors } = deriveVipTable(state());
  const byKey = new Map(table.vips.map((v) => [vipKey(v), v]));
  const web4 = allocateNamed(['web.marathon'], 4).get('web.marathon')!;
  const web6 = allocateNamed(['web.marathon'], 6).get('web.marathon')!;
  const legacy = allocateNamed(['legacy.marathon'], 4).get('legacy.marathon')!;
  const hostsvc = allocateNamed(['hostsvc.marathon'], 4).get('hostsvc.marathon')!;
  const dns = allocateNamed(['dns.marathon'], 4).get('dns.marathon')!;
  assert.deepEqual(
    [...byKey.keys()].sort(),
    [
      `tcp/${web4}/80`,
      `tcp/${web6}/80`,
      `tcp/${legacy}/8080`,
      `tcp/${hostsvc}/9000`,
      'tcp/11.0.2.10/9001',
      `udp/${dns}/53`,
      `tcp/${allocateNamed(['bad.marathon'], 4).get('bad.marathon')}/81`,
      `udp/${allocateNamed(['sdk.marathon'], 4).get('sdk.marathon')}/5001`,
    ].sort(),
  );
  // Overlay: task IPs and the container port; healthy = full weight, unchecked yet = probation;
  // unhealthy and killing tasks are out.
  assert.deepEqual(byKey.get(`tcp/${web4}/80`)!.backends, [
    { ip: '9.0.1.2', port: 80, weight: 2, agent: '10.0.0.1', task: 'web.1' },
    { ip: '9.0.2.2', port: 80, weight: 1, agent: '10.0.0.2', task: 'web.2' },
  ]);
  assert.deepEqual(byKey.get(`tcp/${web4}/80`)!.name, { label: '/web', framework: 'marathon' });
  assert.deepEqual(byKey.get(`tcp/${web6}/80`)!.backends, [
    { ip: 'fd01:b::1:2', port: 80, weight: 2, agent: '10.0.0.1', task: 'web.1' },
  ]);
  assert.equal(byKey.get(`tcp/${web6}/80`)!.family, 6);
  // Bridge: agent IP and host port, plus the container address for the agent itself.
  assert.deepEqual(byKey.get(`tcp/${legacy}/8080`)!.backends, [
    {
      ip: '10.0.0.1',
      port: 31001,
      weight: 2,
      agent: '10.0.0.1',
      task: 'legacy.1',
      local: { ip: '172.31.0.2', port: 8080 },
    },
  ]);
  // Host: agent IP and host port; an IP VIP on the same port.
  const hostBackend = [{ ip: '10.0.0.2', port: 31000, weight: 2, agent: '10.0.0.2', task: 'hostsvc.1' }];
  assert.deepEqual(byKey.get(`tcp/${hostsvc}/9000`)!.backends, hostBackend);
  assert.deepEqual(byKey.get('tcp/11.0.2.10/9001')!.backends, hostBackend);
  assert.equal(byKey.get('tcp/11.0.2.10/9001')!.name, undefined);
  // UDP, agent known only by its pid, task-label affinity.
  const udp = byKey.get(`udp/${dns}/53`)!;
  assert.equal(udp.affinity, true);
  assert.deepEqual(
    udp.backends.map((b) => `${b.ip}:${b.port}`),
    ['10.0.0.3:31053'],
  );
  assert.deepEqual(
    errors.map((e) => [e.task, e.label, e.code]),
    [
      ['sdk.1', 'vip_port7', 'VIP_NO_SUCH_PORT'],
      ['bad.1', 'VIP_0', 'VIP_NO_PORT'],
      ['bad.1', 'VIP_1', 'VIP_BAD_PORT'],
      ['bad.1', 'VIP_2', 'VIP_NAME_UNUSABLE'],
      ['bad.1', 'VIP_0', 'VIP_BAD_PROTOCOL'],
    ],
  );
  // Older SDK frameworks: task label VIP_PORT<i> names the i-th port of the port resources.
  const sdk = byKey.get(`udp/${allocateNamed(['sdk.marathon'], 4).get('sdk.marathon')}/5001`)!;
  assert.deepEqual(sdk.backends, [
    { ip: '10.0.0.2', port: 31501, weight: 2, agent: '10.0.0.2', task: 'sdk.1' },
  ]);
  // The good label next to the bad ones still works.
  assert.equal(
    byKey.get(`tcp/${allocateNamed(['bad.marathon'], 4).get('bad.marathon')}/81`)!.backends.length,
    1,
  );
});

test('derivation with IPv6 disabled keeps IPv4 only; a VIP whose tasks all left is gone', () => {
  const { table } = deriveVipTable(state(), { enableIpv6: false });
  assert.ok(table.vips.every((v) => v.family === 4 && v.backends.every((b) => !b.ip.includes(':'))));
  const s = state();
  s.frameworks[0]!.tasks = s.frameworks[0]!.tasks.filter((t) => !t.id.startsWith('web.'));
  assert.ok(!deriveVipTable(s).table.vips.some((v) => v.name?.label === '/web'));
});

test('every VIP of the table round-trips through its store key', () => {
  const { table } = deriveVipTable(state());
  const kvs = table.vips.map((v) => ({ key: `${VIPS_PREFIX}${vipKey(v)}`, value: JSON.stringify(v) }));
  kvs.push({ key: `${VIPS_PREFIX}tcp/x/1`, value: '{"protocol":"sctp"}' });
  const back = vipTableFromKvs(kvs.reverse());
  assert.deepEqual(back.table, table);
  assert.equal(back.problems.length, 1);
  assert.match(back.problems[0]!.problem, /protocol/);
});

test('DNS zone records: A and AAAA per named VIP, IP VIPs unnamed', () => {
  const { table } = deriveVipTable(state());
  const { a, aaaa } = l4lbZoneRecords(table);
  assert.deepEqual(
    a.get('web.marathon.l4lb.thisdcos.directory.'),
    new Set([allocateNamed(['web.marathon'], 4).get('web.marathon')]),
  );
  assert.deepEqual(
    aaaa.get('web.marathon.l4lb.thisdcos.directory.'),
    new Set([allocateNamed(['web.marathon'], 6).get('web.marathon')]),
  );
  assert.ok(a.has('dns.marathon.l4lb.thisdcos.directory.'));
  assert.equal([...a.keys()].filter((k) => k.includes('192.0.2')).length, 0);
  assert.equal(a.size, 6);
  assert.equal(aaaa.size, 1);
});

test('slots follow weights exactly (smooth weighted round robin), equal weights one each', () => {
  assert.deepEqual(
    fillSlots([
      { target: 'a', weight: 2 },
      { target: 'b', weight: 2 },
      { target: 'c', weight: 2 },
    ]),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(
    fillSlots([
      { target: 'a', weight: 2 },
      { target: 'b', weight: 1 },
    ]),
    ['a', 'b', 'a'],
  );
  const many = fillSlots(Array.from({ length: 200 }, (_, i) => ({ target: `t${i}`, weight: 1 + (i % 2) })));
  assert.equal(many.length, 200, 'above MAX_SLOTS: one slot per backend');
  assert.deepEqual(fillSlots([]), []);
});

/** The kernel side takes parsed tables and a parsed self address (as the agent has them). */
const nodeDataplane = (t: ParsedVipTable, self: string) => planeOf(t, must(parseIpv4(self)));
class NodePlane extends KernelPlane {
  constructor(self: string) {
    super(must(parseIpv4(self)));
  }
}
/** A changed VIP, parsed as an agent reads the changed store entry (unchanged ones keep their objects). */
const P = (v: Vip) => vipSchema.parse(v);

const smallDoc: VipTable = {
  vips: [
    {
      protocol: 'tcp',
      ip: '11.0.0.37',
      port: 80,
      family: 4,
      name: { label: '/web', framework: 'marathon' },
      backends: [
        { ip: '9.0.1.2', port: 80, weight: 2, agent: '10.0.0.1', task: 'web.1' },
        { ip: '9.0.2.2', port: 80, weight: 2, agent: '10.0.0.2', task: 'web.2' },
      ],
    },
    {
      protocol: 'tcp',
      ip: '11.0.0.38',
      port: 8080,
      family: 4,
      backends: [
        {
          ip: '10.0.0.1',
          port: 31001,
          weight: 2,
          agent: '10.0.0.1',
          task: 'legacy.1',
          local: { ip: '172.31.0.2', port: 8080 },
        },
        {
          ip: '10.0.0.2',
          port: 31000,
          weight: 1,
          agent: '10.0.0.2',
          task: 'legacy.2',
          local: { ip: '172.31.1.2', port: 8080 },
        },
      ],
    },
    {
      protocol: 'udp',
      ip: '192.0.2.10',
      port: 53,
      family: 4,
      affinity: true,
      backends: [{ ip: '10.0.0.3', port: 31053, weight: 2, agent: '10.0.0.3', task: 'dns.1' }],
    },
    { protocol: 'tcp', ip: '192.0.2.11', port: 80, family: 4, backends: [] },
    {
      protocol: 'tcp',
      ip: 'fd01:c::6d6d:9c64:fd19:f251',
      port: 80,
      family: 6,
      backends: [{ ip: 'fd01:b::1:2', port: 80, weight: 2, agent: '10.0.0.1', task: 'web.1' }],
    },
  ],
};

const small: ParsedVipTable = parseVipTable(smallDoc);

test('renderer: the whole table for node 10.0.0.1 matches the golden text', () => {
  const text = renderTable(nodeDataplane(small, '10.0.0.1'));
  assert.equal(text, fixture('l4lb/node-10.0.0.1.nft'));
});

test('renderer: local bridge backends are addressed directly, hairpin only for local containers', () => {
  const on2 = nodeDataplane(small, '10.0.0.2');
  assert.equal(on2.slots4.get('11.0.0.38 . tcp . 8080 . 1'), '172.31.1.2 . 8080');
  assert.equal(on2.slots4.get('11.0.0.38 . tcp . 8080 . 0'), '10.0.0.1 . 31001');
  assert.deepEqual([...on2.hairpin4].sort(), ['172.31.1.2 . 172.31.1.2', '9.0.2.2 . 9.0.2.2']);
  assert.deepEqual([...on2.hairpin6], []);
  assert.deepEqual([...on2.routes4], ['192.0.2.10', '192.0.2.11']);
  assert.ok(!on2.vips4.has('192.0.2.11 . tcp . 80'), 'no backend: not dispatched (rejected)');
  assert.ok(on2.ipvips4.has('192.0.2.11 . tcp . 80'));
  assert.equal(on2.vips4.get('192.0.2.10 . udp . 53'), 'g4-1-a');
});

test('renderer: a backend change is a few element updates; nothing changed is empty', () => {
  const from = nodeDataplane(small, '10.0.0.1');
  assert.equal(renderDiff(from, nodeDataplane(small, '10.0.0.1')), '');
  const changed: ParsedVipTable = {
    vips: small.vips.map((v) =>
      v.ip === '11.0.0.37'
        ? P({ ...v, backends: [v.backends[0]!, { ...v.backends[1]!, ip: '9.0.3.2', agent: '10.0.0.4' }] })
        : v,
    ),
  };
  assert.equal(
    renderDiff(from, nodeDataplane(changed, '10.0.0.1')),
    [
      'delete element inet dcnet_l4lb be4 { 11.0.0.37 . tcp . 80 . 1 }',
      'add element inet dcnet_l4lb be4 { 11.0.0.37 . tcp . 80 . 1 : 9.0.3.2 . 80 }',
      '',
    ].join('\n'),
  );
  const removed: ParsedVipTable = { vips: small.vips.filter((v) => v.ip !== '11.0.0.37') };
  assert.equal(
    renderDiff(from, nodeDataplane(removed, '10.0.0.1')),
    [
      'delete element inet dcnet_l4lb be4 { 11.0.0.37 . tcp . 80 . 0, 11.0.0.37 . tcp . 80 . 1 }',
      'delete element inet dcnet_l4lb vips4 { 11.0.0.37 . tcp . 80 }',
      'delete element inet dcnet_l4lb hairpin4 { 9.0.1.2 . 9.0.1.2 }',
      '',
    ].join('\n'),
  );
  const big: ParsedVipTable = {
    vips: [
      P({
        ...small.vips[0]!,
        backends: Array.from({ length: 40 }, (_, i) => ({
          ...small.vips[0]!.backends[1]!,
          ip: `9.0.9.${i + 1}`,
        })),
      }),
    ],
  };
  assert.equal(
    renderDiff(from, nodeDataplane(big, '10.0.0.1')),
    undefined,
    'a new slot-count chain: full load',
  );
});

test('read-back: the kernel JSON of the rendered table shows no drift; a lost element does', () => {
  const want = nodeDataplane(small, '10.0.0.1');
  const json = JSON.parse(fixture('l4lb/node-10.0.0.1.json')) as { nftables: Record<string, unknown>[] };
  assert.deepEqual(driftOf(parseKernelTable(json), want), []);
  const damaged = {
    nftables: json.nftables.map((item) => {
      const m = (item as { map?: { name: string; elem: unknown[] } }).map;
      return m?.name === 'be4' ? { map: { ...m, elem: m.elem.slice(1) } } : item;
    }),
  };
  assert.deepEqual(driftOf(parseKernelTable(damaged), want), ['map be4']);
  const noChain = {
    nftables: json.nftables.filter((i) => (i as { rule?: { chain: string } }).rule?.chain !== 'output'),
  };
  assert.deepEqual(driftOf(parseKernelTable(noChain), want), ['chain output']);
});

/** `delete/add element … NAME { a, b }` lines as a sorted list of single-element operations. */
const ops = (script: string | undefined): string[] =>
  (script ?? '')
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      const m = /^(delete|add) element inet dcnet_l4lb (\S+) \{ (.*) \}$/.exec(line);
      assert.ok(m, line);
      return m[3]!.split(', ').map((e) => `${m[1]} ${m[2]} ${e}`);
    })
    .sort();

test('incremental plane: after any change it equals a fresh derivation, and its increment is the diff', () => {
  const plane = new NodePlane('10.0.0.1');
  plane.update(small);
  let table = small;
  const steps: ((t: ParsedVipTable) => ParsedVipTable)[] = [
    // a backend replaced
    (t) => ({
      vips: t.vips.map((v) =>
        v.ip === '11.0.0.37'
          ? P({ ...v, backends: [v.backends[0]!, { ...v.backends[1]!, ip: '9.0.3.2' }] })
          : v,
      ),
    }),
    // a VIP added, with a local backend sharing a hairpin pair with another VIP
    (t) => ({ vips: [...t.vips, P({ ...small.vips[0]!, ip: '11.0.0.99', port: 81 })] }),
    // weights change: slot count and chain change
    (t) => ({
      vips: t.vips.map((v) =>
        v.ip === '11.0.0.99' ? P({ ...v, backends: [{ ...v.backends[0]!, weight: 1 }, v.backends[1]!] }) : v,
      ),
    }),
    // one of the two VIPs sharing the hairpin pair goes; the pair must stay
    (t) => ({ vips: t.vips.filter((v) => !(v.ip === '11.0.0.37')) }),
    // an IP VIP loses its backends, another appears on the same address (route shared)
    (t) => ({
      vips: [
        ...t.vips.map((v) => (v.ip === '192.0.2.10' ? P({ ...v, backends: [] }) : v)),
        P({ ...small.vips[2]!, port: 54 }),
      ],
    }),
    // affinity flips
    (t) => ({ vips: t.vips.map((v) => (v.port === 54 ? P({ ...v, affinity: false }) : v)) }),
    // everything goes
    () => ({ vips: [] }),
  ];
  for (const [i, step] of steps.entries()) {
    const before = nodeDataplane(table, '10.0.0.1');
    table = step(table);
    const change = plane.update(table);
    const fresh = nodeDataplane(table, '10.0.0.1');
    for (const k of [
      'vips4',
      'vips6',
      'slots4',
      'slots6',
      'hairpin4',
      'hairpin6',
      'ipvips4',
      'ipvips6',
      'routes4',
      'routes6',
    ] as const)
      assert.deepEqual(new Set([...plane.current[k]]), new Set([...fresh[k]]), `step ${i}: ${k}`);
    assert.deepEqual(ops(change.script), ops(renderDiff(before, fresh)), `step ${i}: increment`);
  }
  assert.equal(plane.current.hairpin4.size, 0);
  assert.equal(plane.current.routes4.size, 0);
});

test('incremental plane: departed targets are reported per VIP (for the conntrack flush)', () => {
  const plane = new NodePlane('10.0.0.2');
  plane.update(small);
  const change = plane.update({ vips: small.vips.filter((v) => v.ip !== '11.0.0.38') });
  assert.deepEqual(
    change.departed.map((d) => `${d.protocol} ${d.ip}:${d.port} -> ${d.backendIp} . ${d.backendPort}`).sort(),
    ['tcp 11.0.0.38:8080 -> 10.0.0.1 . 31001', 'tcp 11.0.0.38:8080 -> 172.31.1.2 . 8080'],
  );
  assert.equal(plane.update({ vips: small.vips.filter((v) => v.ip !== '11.0.0.38') }).script, '');
  assert.deepEqual(
    plane
      .update(small)
      .arrived.map((d) => `${d.protocol} ${d.ip}:${d.port} -> ${d.backendIp} . ${d.backendPort}`)
      .sort(),
    ['tcp 11.0.0.38:8080 -> 10.0.0.1 . 31001', 'tcp 11.0.0.38:8080 -> 172.31.1.2 . 8080'],
  );
});

test('incremental plane: a node that started with no VIPs gets its first ones as an increment', () => {
  const plane = new NodePlane('10.0.0.1');
  assert.equal(plane.update({ vips: [] }).script, '');
  const change = plane.update(small);
  assert.deepEqual(
    ops(change.script),
    ops(renderDiff(nodeDataplane({ vips: [] }, '10.0.0.1'), nodeDataplane(small, '10.0.0.1'))),
  );
  assert.ok(change.script.includes('add element inet dcnet_l4lb vips4'));
  assert.equal(change.routesChanged, true);
});

test("GET /v1/vips body: dcos-net's format, named VIPs by name with both families' backends", () => {
  const body = vipsJson(small);
  assert.deepEqual(body, [
    {
      vip: '11.0.0.38:8080',
      protocol: 'tcp',
      backend: [
        { ip: '10.0.0.1', port: 31001 },
        { ip: '10.0.0.2', port: 31000 },
      ],
    },
    { vip: '192.0.2.10:53', protocol: 'udp', backend: [{ ip: '10.0.0.3', port: 31053 }] },
    { vip: '192.0.2.11:80', protocol: 'tcp', backend: [] },
    { vip: '[fd01:c::6d6d:9c64:fd19:f251]:80', protocol: 'tcp', backend: [{ ip: 'fd01:b::1:2', port: 80 }] },
    {
      vip: 'web.marathon.l4lb.thisdcos.directory:80',
      protocol: 'tcp',
      backend: [
        { ip: '9.0.1.2', port: 80 },
        { ip: '9.0.2.2', port: 80 },
      ],
    },
  ]);
});

test('renderer: with conntrack flushing, DNATed packets skip the gone rules entirely', () => {
  const text = renderTable(nodeDataplane(small, '10.0.0.1'), { gone: false });
  assert.doesNotMatch(text, /jump gone/);
  assert.match(text, /chain filter-forward \{\n.*\n {4}ct state new jump unserved\n {2}\}/);
  assert.match(renderTable(nodeDataplane(small, '10.0.0.1')), /ct status dnat jump gone/);
});
