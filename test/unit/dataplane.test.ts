// The overlay data plane as pure functions: what a node programs for its peers (derive) and the
// iproute2 batch lines that turn the kernel's actual state into it (plan).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  asActual,
  deriveDataplane,
  nodeInfoSchema,
  planEntries,
  planVtep,
  type EntryPlan,
  type NodeInfo,
  type NodeInfoDoc,
} from '../../src/overlay/dataplane/index.js';
import {
  fdbFromJson,
  neighFromJson,
  renderBridgeCommand,
  renderIpCommand,
  routesFromJson,
  rulesFromJson,
  type LinkInfo,
} from '../../src/kernel/index.js';
import { must, parseIpCidr } from '../../src/net/index.js';

const parse = (doc: NodeInfoDoc): NodeInfo => nodeInfoSchema.parse(doc);
/** The plan as the batch lines kernel/ renders from it. */
const lines = (p: EntryPlan) => ({
  ip: p.ip.map(renderIpCommand),
  bridge: p.bridge.map(renderBridgeCommand),
});
const cidrs = (...t: string[]) => t.map((x) => must(parseIpCidr(x)));

const nodeDoc = (n: number, slices = true): NodeInfoDoc => ({
  ip: `172.17.0.${n}`,
  vtep: { ip: `44.128.0.${n - 1}/20`, ip6: `fd01:a::${n - 1}/64`, mac: `70:b3:d5:80:00:0${n - 1}` },
  overlays: [
    { name: 'dcos', overlay_subnet: '9.0.0.0/8', ...(slices && { subnet: `9.0.${n - 2}.0/24` }) },
    { name: 'dcos6', overlay_subnet6: 'fd01:b::/64', ...(slices && { subnet6: `fd01:b:0:0:${n - 2}::/80` }) },
  ],
});
const node = (n: number, slices = true): NodeInfo => parse(nodeDoc(n, slices));

test('derive: the DC/OS example seen from 172.17.0.4 (routes, ARP, FDB, table 42, rule)', () => {
  const { desired, problems } = deriveDataplane(node(4), [node(2), node(3), node(4)], 1420);
  assert.deepEqual(problems, []);
  assert.deepEqual(desired.vtep, {
    name: 'vtep1024',
    vni: 1024,
    port: 64000,
    local: '172.17.0.4',
    mac: '70:b3:d5:80:00:03',
    mtu: 1420,
    addrs: ['44.128.0.3/20', 'fd01:a::3/64'],
  });
  assert.deepEqual(desired.neighbours, [
    { ip: '44.128.0.1', mac: '70:b3:d5:80:00:01' },
    { ip: 'fd01:a::1', mac: '70:b3:d5:80:00:01' },
    { ip: '44.128.0.2', mac: '70:b3:d5:80:00:02' },
    { ip: 'fd01:a::2', mac: '70:b3:d5:80:00:02' },
  ]);
  assert.deepEqual(desired.fdb, [
    { mac: '70:b3:d5:80:00:01', dst: '172.17.0.2' },
    { mac: '70:b3:d5:80:00:02', dst: '172.17.0.3' },
  ]);
  assert.deepEqual(desired.routes, [
    { dst: '9.0.0.0/24', via: '44.128.0.1' },
    { dst: 'fd01:b::/80', via: 'fd01:a::1' },
    { dst: '172.17.0.2/32', via: '44.128.0.1', table: 42 },
    { dst: '9.0.1.0/24', via: '44.128.0.2' },
    { dst: 'fd01:b:0:0:1::/80', via: 'fd01:a::2' },
    { dst: '172.17.0.3/32', via: '44.128.0.2', table: 42 },
  ]);
  assert.deepEqual(desired.rules, ['9.0.0.0/8']);
});

test('derive: peers on other overlays are ignored, IPv6 needs a local VTEP IPv6, conflicting peers are reported', () => {
  const local = parse({ ...nodeDoc(4), vtep: { ip: '44.128.0.3/20', mac: '70:b3:d5:80:00:03' } });
  const stranger = parse({
    ...nodeDoc(5),
    overlays: [{ name: 'other', overlay_subnet: '10.0.0.0/8', subnet: '10.0.1.0/24' }],
  });
  // Claims node 3's VTEP MAC: it would steer 3's traffic; the first claim (lower IP) keeps it.
  const thief = parse({ ...nodeDoc(6), vtep: { ip: '44.128.0.5/20', mac: '70:b3:d5:80:00:02' } });
  const { desired, problems } = deriveDataplane(local, [node(3), stranger, thief], 1500);
  assert.deepEqual(
    desired.routes.map((r) => r.dst),
    ['9.0.1.0/24', '172.17.0.3/32'],
  );
  assert.deepEqual(
    desired.neighbours.map((n) => n.ip),
    ['44.128.0.2'],
  );
  assert.deepEqual(problems, [
    { peer: '172.17.0.6', field: 'vtep.mac', problem: "70:b3:d5:80:00:02 is already 172.17.0.3's" },
  ]);
  assert.deepEqual(desired.vtep.addrs, ['44.128.0.3/20']);
});

test("derive: a peer claiming this node's VTEP address is refused", () => {
  const thief = parse({ ...nodeDoc(6), vtep: { ip: '44.128.0.3/20', mac: '70:b3:d5:80:00:09' } });
  const { desired, problems } = deriveDataplane(node(4), [thief], 1420);
  assert.deepEqual(desired.routes, []);
  assert.equal(problems[0]!.field, 'vtep.ip');
});

const vxlan = (over: Partial<LinkInfo> = {}, data: Record<string, unknown> = {}): LinkInfo => ({
  ifname: 'vtep1024',
  address: '70:b3:d5:80:00:03',
  mtu: 1420,
  flags: ['UP'],
  linkinfo: {
    info_kind: 'vxlan',
    info_data: { id: 1024, port: 64000, local: '172.17.0.4', learning: false, udp_csum: false, ...data },
  },
  ...over,
});

test('plan: VTEP created when absent, left alone when right, recreated when its identity differs', () => {
  const { desired } = deriveDataplane(node(4), [], 1420);
  const plan = (...a: Parameters<typeof planVtep>) => planVtep(...a).map(renderIpCommand);
  assert.deepEqual(plan(desired.vtep, undefined, []), [
    'link add vtep1024 type vxlan id 1024 dstport 64000 local 172.17.0.4 nolearning noudpcsum',
    'link set vtep1024 address 70:b3:d5:80:00:03 mtu 1420 up',
    'addr replace 44.128.0.3/20 dev vtep1024',
    'addr replace fd01:a::3/64 dev vtep1024 nodad',
  ]);
  assert.deepEqual(plan(desired.vtep, vxlan(), cidrs('44.128.0.3/20', 'fd01:a::3/64')), []);
  assert.deepEqual(
    plan(
      desired.vtep,
      vxlan({ mtu: 1500, flags: [] }),
      cidrs('44.128.0.3/20', 'fd01:a::3/64', '44.128.0.9/20'),
    ),
    ['link set vtep1024 mtu 1420 up', 'addr del 44.128.0.9/20 dev vtep1024'],
  );
  assert.equal(plan(desired.vtep, vxlan({}, { port: 4789 }), [])[0], 'link del vtep1024');
  assert.equal(plan(desired.vtep, vxlan({}, { udp_csum: true }), [])[0], 'link del vtep1024');
});

test('plan: only the difference, deletions limited to what dcnet owns', () => {
  const { desired } = deriveDataplane(node(4), [node(3)], 1420);
  // As `ip -j` / `bridge -j` print them, parsed the way kernel/ reads them back.
  const plan = lines(
    planEntries(desired, {
      neighbours: neighFromJson([
        { dst: '44.128.0.2', lladdr: '70:b3:d5:80:00:02', state: ['PERMANENT'] },
        { dst: '44.128.0.7', lladdr: '70:b3:d5:80:00:07', state: ['PERMANENT'] },
        { dst: '44.128.0.8', lladdr: '70:b3:d5:80:00:08', state: ['REACHABLE'] },
      ]),
      fdb: fdbFromJson([
        { mac: '00:00:00:00:00:00', dst: '172.17.0.9', state: 'permanent', flags: ['self'] },
        { mac: '70:b3:d5:80:00:02', dst: '172.17.0.30', state: 'permanent', flags: ['self'] },
        { mac: '70:b3:d5:80:00:07', dst: '172.17.0.8', state: 'permanent', flags: ['self'] },
      ]),
      routes: routesFromJson([
        { dst: '9.0.1.0/24', gateway: '44.128.0.2', dev: 'vtep1024' },
        { dst: '9.0.6.0/24', gateway: '44.128.0.7', dev: 'vtep1024' },
        { dst: '172.17.0.8', gateway: '44.128.0.7', dev: 'vtep1024', table: '42' },
      ]),
      rules: rulesFromJson([
        { priority: 32765, src: '9.0.0.0', srclen: 8, table: '42' },
        { priority: 32766, src: 'all', table: 'main' },
      ]),
    }),
  );
  assert.deepEqual(plan.ip, [
    'neigh replace fd01:a::2 lladdr 70:b3:d5:80:00:02 dev vtep1024 nud permanent',
    'neigh del 44.128.0.7 dev vtep1024',
    'route replace fd01:b:0:0:1::/80 via fd01:a::2 dev vtep1024 proto 97',
    'route replace 172.17.0.3/32 via 44.128.0.2 dev vtep1024 table 42 proto 97',
    'route del 9.0.6.0/24 proto 97',
    'route del 172.17.0.8/32 table 42 proto 97',
  ]);
  assert.deepEqual(plan.bridge, [
    'fdb del 70:b3:d5:80:00:07 dev vtep1024 dst 172.17.0.8 self',
    'fdb replace 70:b3:d5:80:00:02 dev vtep1024 dst 172.17.0.3 self permanent',
  ]);
});

test('plan: converged state plans nothing', () => {
  const { desired } = deriveDataplane(node(4), [node(3)], 1420);
  const plan = planEntries(desired, {
    neighbours: neighFromJson(
      desired.neighbours.map((n) => ({ dst: n.ip, lladdr: n.mac, state: ['PERMANENT'] })),
    ),
    fdb: fdbFromJson(desired.fdb.map((f) => ({ mac: f.mac, dst: f.dst, state: 'permanent' }))),
    routes: routesFromJson(
      desired.routes.map((r) => ({
        dst: r.dst.endsWith('/32') ? r.dst.slice(0, -3) : r.dst,
        gateway: r.via,
        dev: 'vtep1024',
        ...(r.table && { table: String(r.table) }),
      })),
    ),
    rules: rulesFromJson([{ priority: 32765, src: '9.0.0.0', srclen: 8, table: '42' }]),
  });
  assert.deepEqual(plan, { ip: [], bridge: [] });
});

test('incremental plan: from the last applied state, only the joining or leaving peer', () => {
  const before = deriveDataplane(node(4), [node(3)], 1420).desired;
  const after = deriveDataplane(node(4), [node(2), node(3)], 1420).desired;
  const join = lines(planEntries(after, asActual(before)));
  assert.deepEqual(join.ip, [
    'neigh replace 44.128.0.1 lladdr 70:b3:d5:80:00:01 dev vtep1024 nud permanent',
    'neigh replace fd01:a::1 lladdr 70:b3:d5:80:00:01 dev vtep1024 nud permanent',
    'route replace 9.0.0.0/24 via 44.128.0.1 dev vtep1024 proto 97',
    'route replace fd01:b::/80 via fd01:a::1 dev vtep1024 proto 97',
    'route replace 172.17.0.2/32 via 44.128.0.1 dev vtep1024 table 42 proto 97',
  ]);
  assert.deepEqual(join.bridge, ['fdb replace 70:b3:d5:80:00:01 dev vtep1024 dst 172.17.0.2 self permanent']);
  const leave = lines(planEntries(before, asActual(after)));
  assert.deepEqual(leave.bridge, ['fdb del 70:b3:d5:80:00:01 dev vtep1024 dst 172.17.0.2 self']);
  assert.equal(leave.ip.length, 5);
  assert.ok(leave.ip.every((l) => l.startsWith('neigh del') || l.startsWith('route del')));
  assert.deepEqual(planEntries(after, asActual(after)), { ip: [], bridge: [] });
});
