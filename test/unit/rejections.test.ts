// Parsing at the edge, per entry: a poisoned store value or master answer is refused alone, naming
// its key and field; the other entries of the same read still come through. The registry logs,
// counts and lists refusals, and `dcnet status` shows them escaped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { formatStatus } from '../../src/cli/status.js';
import { vipKey, VIPS_PREFIX, vipTableFromKvs, type Vip } from '../../src/l4lb/index.js';
import { describeIssues } from '../../src/net/index.js';
import {
  nodeInfoSchema,
  parseAgentInfo,
  type ClusterStatus,
  type NodeInfoDoc,
} from '../../src/overlay/index.js';
import { genericField, Rejections } from '../../src/reconcile/index.js';
import { fixture } from '../helpers/fixtures.js';

const PAYLOAD = 'x\nlink add evil type bridge; $(reboot) flush ruleset';

/** Every string path of a document (where a poisoned value can go). */
function stringPaths(doc: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof doc === 'string') return [at];
  if (Array.isArray(doc)) return doc.flatMap((v, i) => stringPaths(v, [...at, i]));
  if (doc && typeof doc === 'object')
    return Object.entries(doc).flatMap(([k, v]) => stringPaths(v, [...at, k]));
  return [];
}
function poison<T>(doc: T, path: (string | number)[], how: (v: string) => string): T {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  at[path.at(-1)!] = how(String(at[path.at(-1)!]));
  return copy as T;
}
const HOW = [(v: string) => `${v}\n${PAYLOAD}`, (v: string) => `${v} ${PAYLOAD}`, () => PAYLOAD];

const peer: NodeInfoDoc = {
  ip: '192.0.2.7',
  vtep: { ip: '44.128.0.7/20', ip6: 'fd01:a::7/64', mac: '70:b3:d5:80:00:07' },
  overlays: [
    { name: 'dcos', overlay_subnet: '9.0.0.0/8', subnet: '9.0.7.0/24' },
    { name: 'dcos6', overlay_subnet6: 'fd01:b::/64', subnet6: 'fd01:b:0:0:7::/80' },
  ],
};

test('peer publications: a poisoned value in any field is refused, naming that field', () => {
  assert.equal(nodeInfoSchema.safeParse(peer).success, true);
  for (const path of stringPaths(peer)) {
    for (const how of HOW) {
      const r = nodeInfoSchema.safeParse(poison(peer, path, how));
      assert.equal(r.success, false, `${path.join('.')} poisoned is refused`);
      assert.deepEqual(
        describeIssues(r.error!).map((i) => i.field),
        [path.join('.')],
        'the refusal names the field',
      );
    }
  }
});

const vip: Vip = {
  protocol: 'tcp',
  ip: '11.0.0.37',
  port: 80,
  family: 4,
  name: { label: '/web', framework: 'marathon' },
  backends: [
    {
      ip: '9.0.1.2',
      port: 80,
      weight: 2,
      agent: '192.0.2.1',
      task: 'web.1',
      local: { ip: '9.0.1.2', port: 80 },
    },
  ],
};

test('VIP entries: each poisoned field is refused alone; the other entries of the read are kept', () => {
  const good2: Vip = { ...vip, ip: '11.0.0.38' };
  for (const path of stringPaths(vip)) {
    for (const how of HOW) {
      const bad = poison(vip, path, how);
      const kvs = [
        { key: `${VIPS_PREFIX}${vipKey(good2)}`, value: JSON.stringify(good2) },
        // Under the good VIP's key, so that only the field (not the key) is wrong.
        { key: `${VIPS_PREFIX}${vipKey(vip)}`, value: JSON.stringify(bad) },
      ];
      const { table, problems } = vipTableFromKvs(kvs);
      assert.deepEqual(
        table.vips.map((v) => v.ip),
        ['11.0.0.38'],
        `${path.join('.')}: the good VIP stays`,
      );
      assert.equal(problems.length, 1);
      assert.equal(problems[0]!.key, `${VIPS_PREFIX}tcp/11.0.0.37/80`);
      assert.match(problems[0]!.problem, new RegExp(`^${path.join('\\.')}: `), problems[0]!.problem);
    }
  }
  // Family mismatches would fail the whole nft table: refused per VIP.
  const mixed = { ...vip, backends: [{ ...vip.backends[0]!, ip: 'fd01:b::2', local: undefined }] };
  const r = vipTableFromKvs([{ key: `${VIPS_PREFIX}${vipKey(mixed)}`, value: JSON.stringify(mixed) }]);
  assert.match(r.problems[0]!.problem, /backends\.0\.ip: fd01:b::2 is not an IPv4 address like the VIP/);
  // A VIP under another VIP's key is refused: the key is checked against the value.
  const moved = vipTableFromKvs([{ key: `${VIPS_PREFIX}tcp/11.0.0.99/80`, value: JSON.stringify(vip) }]);
  assert.match(moved.problems[0]!.problem, /^key: /);
});

test("master's answer: one bad overlay is refused, the others are configured; a bad answer is refused", () => {
  const doc = JSON.parse(fixture('overlay-agent-172.17.0.4.json')) as {
    overlays: Record<string, unknown>[];
  };
  const ok = parseAgentInfo(doc);
  assert.equal(ok.info?.overlays?.length, 2);
  assert.deepEqual(ok.rejected, []);
  for (const path of stringPaths(doc.overlays[0])) {
    if (path.join('.') === 'state.status' || path.join('.') === 'state.error') continue; // not used
    const bad = poison(doc, ['overlays', 0, ...path], HOW[0]!);
    const r = parseAgentInfo(bad);
    assert.deepEqual(
      r.info?.overlays?.map((o) => o.info.name),
      ['dcos6'],
      `overlays.0.${path.join('.')} poisoned: dcos6 still configured`,
    );
    assert.equal(r.rejected[0]!.part, 'overlays.0');
    assert.ok(
      r.rejected[0]!.fields.some((f) => f.field === path.join('.')),
      JSON.stringify(r.rejected[0]!.fields),
    );
  }
  // The bridges are the overlay's own: a master cannot name another device.
  const eth0 = poison(doc, ['overlays', 0, 'docker_bridge', 'name'], () => 'eth0');
  assert.match(parseAgentInfo(eth0).rejected[0]!.fields[0]!.problem, /must be d-dcos/);
  // An overlay name that would leave the CNI directory.
  const path = poison(doc, ['overlays', 0, 'info', 'name'], () => '../../etc');
  assert.deepEqual(parseAgentInfo(path).rejected[0]!.fields[0]!.field, 'info.name');
  const noIp = parseAgentInfo({ ...doc, ip: `172.17.0.4\n${PAYLOAD}` });
  assert.equal(noIp.info, undefined);
  assert.equal(noIp.rejected[0]!.fields[0]!.field, 'ip');
});

test('rejections: logged once per new problem with key and field, counted, listed, cleared when fixed', async () => {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  const registry = new Registry();
  const r = new Rejections(log, registry);
  let changes = 0;
  r.onChange(() => changes++);
  const key = `${VIPS_PREFIX}tcp/11.0.0.37/80`;
  r.reject('vip', key, [{ field: 'backends.0.ip', problem: '"x\\n" is not an IP address' }]);
  r.reject('vip', key, [{ field: 'backends.0.ip', problem: '"x\\n" is not an IP address' }]);
  r.reject('peer', 'overlay/nodes/192.0.2.9', [{ field: 'vtep.mac', problem: 'bad' }]);
  assert.equal(changes, 2, 'the same problem again is not news');
  const warned = lines.filter((l) => l.level === 40);
  assert.equal(warned.length, 2);
  assert.equal(warned[0]!.field, 'backends.0.ip');
  assert.match(String(warned[0]!.key), /tcp\/11\.0\.0\.37\/80/);
  const metrics = await registry.metrics();
  assert.match(metrics, /dcnet_rejected_input_total\{source="vip",field="backends\[\]\.ip"\} 1/);
  assert.match(metrics, /dcnet_rejected_input_total\{source="peer",field="vtep\.mac"\} 1/);
  assert.match(metrics, /dcnet_rejected_inputs\{source="vip"\} 1/);
  assert.deepEqual(
    r.list().map((x) => [x.source, x.key, x.field]),
    [
      ['vip', key, 'backends.0.ip'],
      ['peer', 'overlay/nodes/192.0.2.9', 'vtep.mac'],
    ],
  );
  r.accept('vip', key);
  assert.equal(r.size, 1);
  r.retainOnly('peer', new Set());
  assert.equal(r.size, 0);
  assert.equal(genericField('overlays.12.backend.vxlan.vtep_mac'), 'overlays[].backend.vxlan.vtep_mac');
});

test("dcnet status shows each agent's rejected inputs and refused entries, escaped", () => {
  const status: ClusterStatus = {
    self: { id: 'm1', url: 'http://192.0.2.100:5050', leader: true },
    leader: { id: 'm1', url: 'http://192.0.2.100:5050' },
    store: { reachable: true, revision: 7 },
    agents: [
      {
        ip: '192.0.2.1',
        vtep: '44.128.0.1',
        published: true,
        lease: '5',
        status: {
          updated: '2024-01-01T00:00:00.000Z',
          rejected: [
            {
              source: 'peer',
              key: 'overlay/nodes/192.0.2.9',
              field: 'vtep.mac',
              problem: 'evil\u001b[2J\nline',
              since: '2024-01-01T00:00:00.000Z',
            },
          ],
          dataplane: {
            failures: [
              {
                line: 'route replace 9.0.9.0/24 via 10.99.0.9 dev vtep1024 proto 97',
                error: 'Error: Nexthop has invalid gateway.',
              },
            ],
          },
        },
      },
    ],
  } as ClusterStatus;
  const text = formatStatus(status);
  assert.match(text, /rejected inputs \(1, skipped; the rest applies\):/);
  assert.match(text, /peer overlay\/nodes\/192\.0\.2\.9: vtep\.mac: "evil\\u001b\[2J\\nline"/);
  assert.match(
    text,
    /kernel refused: route replace 9\.0\.9\.0\/24 via 10\.99\.0\.9 .*Nexthop has invalid gateway/,
  );
  assert.ok(!text.includes('\u001b'), 'no escape sequence reaches the terminal');
});
