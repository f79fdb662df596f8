// A poisoned store, end to end: peer and VIP entries whose every field in turn carries a newline
// with an ip command, shell syntax or an nft `flush ruleset`, written into the master's store the
// way one unauthenticated POST /store/v1/txn did it. Every agent refuses each entry (named in its
// /rejections, counted in its metrics, shown by dcnet status), nothing appears in any namespace
// (links, routes, rules, neighbours, FDB, nft ruleset unchanged), and the data plane keeps
// following the cluster: a VIP added afterwards and a new agent are programmed everywhere.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatStatus } from '../../src/cli/status.js';
import type { ClusterStatus } from '../../src/overlay/index.js';
import { OverlayCluster, sweepStale, type Host } from '../../src/sim/index.js';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';
import { privilegedStore, type PrivilegedStore } from '../helpers/privileged-store.js';

let cluster: OverlayCluster;
let store: PrivilegedStore;
let workdir: string;

/** The same payloads in every field: an ip batch line ('#' comments out the rest of the line it
 *  lands in), an nft statement, shell syntax. */
const PAYLOADS: ((v: string) => string)[] = [
  (v) => `${v}\nlink add evil type bridge #`,
  (v) =>
    `${v} }\nflush ruleset\nadd table inet evil\nadd element inet dcnet_l4lb vips4 { 11.0.0.250 . tcp . 80`,
  (v) => `${v};$(touch /tmp/dcnet-pwned)`,
  (v) => `${v} dev vtep1024 nud permanent\nlink add evil2 type bridge #`,
];
/** Free text (a VIP's label and framework, a task id) never reaches a command: `;` and `$()` are
 *  just characters of a name there and its VIP is served as such; a line break is what is refused. */
const FREE_TEXT = new Set([
  'name.label',
  'name.framework',
  'backends.0.task',
  'backends.1.task',
  'backends.2.task',
]);
const payloadsFor = (path: (string | number)[]): ((v: string) => string)[] =>
  FREE_TEXT.has(path.join('.'))
    ? [PAYLOADS[0]!, PAYLOADS[1]!, (v) => `${v}\n;$(touch /tmp/dcnet-pwned)`]
    : PAYLOADS.slice(0, 3);

type Doc = Record<string, unknown>;
function paths(doc: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof doc === 'string' || typeof doc === 'number') return [at];
  if (Array.isArray(doc)) return doc.flatMap((v, i) => paths(v, [...at, i]));
  if (doc && typeof doc === 'object') return Object.entries(doc).flatMap(([k, v]) => paths(v, [...at, k]));
  return [];
}
function poisoned<T>(doc: T, path: (string | number)[], how: (v: string) => string): T {
  const copy = structuredClone(doc) as Doc;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Doc;
  at[path.at(-1)!] = how(String(at[path.at(-1)!]));
  return copy as T;
}

const peerDoc = (n: number): Doc => ({
  ip: `203.0.113.${n}`,
  vtep: {
    ip: `44.128.0.${n}/20`,
    ip6: `fd01:a::${n}/64`,
    mac: `70:b3:d5:80:00:${n.toString(16).padStart(2, '0')}`,
  },
  overlays: [
    { name: 'dcos', overlay_subnet: '9.0.0.0/8', subnet: `9.0.${n}.0/24` },
    { name: 'dcos6', overlay_subnet6: 'fd01:b::/64', subnet6: `fd01:b:0:0:${n}::/80` },
  ],
});
const vipDoc = (ip: string, backends: string[]): Doc => ({
  protocol: 'tcp',
  ip,
  port: 80,
  family: 4,
  name: { label: '/web', framework: 'marathon' },
  backends: backends.map((b, i) => ({
    ip: b,
    port: 8080,
    weight: 2,
    agent: b,
    task: `web.${i}`,
    ...(i === 0 && { local: { ip: '9.0.1.2', port: 8080 } }),
  })),
});

const sh = async (host: Host, cmd: string, args: string[]): Promise<string> =>
  (await cluster.tb.exec(host.netns, cmd, args)).stdout;
const hosts = (): Host[] => [cluster.master.host, ...[...cluster.agents.values()].map((a) => a.host)];

/** Everything a poisoned line could create in a namespace. */
interface Snapshot {
  readonly links: string[];
  readonly routes: string[];
  readonly rules: string[];
  readonly neigh: string[];
  readonly fdb: string[];
  readonly nft: string[];
}
async function snapshot(host: Host): Promise<Snapshot> {
  const json = async (cmd: string, args: string[]) =>
    JSON.parse((await sh(host, cmd, args)) || '[]') as Doc[];
  const links = (await json('ip', ['-j', 'link', 'show'])).map((l) => String(l.ifname));
  // IPv6 link-local and multicast routes come and go with the kernel's own address configuration.
  const routes = [
    ...(await json('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])),
    ...(await json('ip', ['-j', '-6', 'route', 'show', 'table', 'all'])),
  ]
    .filter((r) => !/^(fe80|ff00):/.test(String(r.dst)))
    .map(
      (r) =>
        `${String(r.dst)} ${String(r.gateway ?? '')} ${String(r.dev ?? '')} ${String(r.table ?? 'main')}`,
    );
  const rules = (await json('ip', ['-j', 'rule', 'show'])).map((r) => JSON.stringify(r));
  const neigh = (await json('ip', ['-j', 'neigh', 'show', 'nud', 'permanent'])).map((n) => JSON.stringify(n));
  const fdb = links.includes('vtep1024')
    ? (await json('bridge', ['-j', 'fdb', 'show', 'dev', 'vtep1024'])).map((f) => JSON.stringify(f))
    : [];
  const nft = (await sh(host, 'nft', ['list', 'ruleset'])).split('\n').map((l) => l.trim());
  const sort = (xs: string[]) => [...new Set(xs)].sort();
  return {
    links: sort(links),
    routes: sort(routes),
    rules: sort(rules),
    neigh: sort(neigh),
    fdb: sort(fdb),
    nft: sort(nft),
  };
}

const vipsMap = async (host: Host): Promise<string> =>
  sh(host, 'nft', ['list', 'map', 'inet', 'dcnet_l4lb', 'vips4']).catch(() => '');
const routes97 = async (host: Host): Promise<string> =>
  sh(host, 'ip', ['route', 'show', 'table', 'all', 'proto', '97']);
const sliceOf = async (name: string): Promise<string> =>
  (await cluster.agentInfo(name)).overlays!.find((o) => o.info.name === 'dcos')!.subnet!;

before(async () => {
  if (NEEDS_ROOT) return;
  await sweepStale();
  workdir = await mkdtemp(join(tmpdir(), 'dcnet-test-e2e-poison-'));
  cluster = await OverlayCluster.start({
    agents: 3,
    workdir,
    agentArgs: () => ['--resync-interval', '1', '--grace-period', '30'],
  });
  store = privilegedStore(cluster);
  await cluster.waitReady(30_000);
});

after(async () => {
  await cluster?.destroy();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

test(
  'poisoned peer and VIP entries create nothing anywhere, are reported, and the data plane keeps following',
  { skip: NEEDS_ROOT, timeout: 170_000 },
  async () => {
    const agentIps = [...cluster.agents.values()].map((a) => a.host.ip);
    // A good VIP first, programmed on every node: the table the poison must not disturb.
    await store.put('l4lb/vips/tcp/11.0.0.50/80', JSON.stringify(vipDoc('11.0.0.50', agentIps)));
    // Settled first: the VIP everywhere, and the VIP ranges' routes (the IPv6 one waits for an
    // IPv6 address on the node, which the overlay configures in parallel).
    for (const h of hosts().slice(1))
      await eventually(async () => {
        assert.match(await vipsMap(h), /11\.0\.0\.50 \. tcp \. 80/);
        assert.match(await sh(h, 'ip', ['-6', 'route', 'show', 'proto', '98']), /^fd01:c::\/64 /m);
      }, 15_000);
    const before = new Map<string, Snapshot>();
    for (const h of hosts()) before.set(h.name, await snapshot(h));

    // The poison: each field of a peer publication and of a VIP in turn, under its own key.
    const keys = { peer: [] as string[], vip: [] as string[] };
    let n = 10;
    for (const path of paths(peerDoc(0))) {
      for (const how of PAYLOADS) {
        const doc = peerDoc(n);
        const key = `overlay/nodes/${String(doc.ip)}`;
        await store.put(key, JSON.stringify(poisoned(doc, path, how)));
        keys.peer.push(key);
        n++;
      }
    }
    n = 100;
    for (const path of paths(vipDoc('11.0.0.1', agentIps))) {
      for (const how of payloadsFor(path)) {
        const ip = `11.0.0.${n}`;
        const key = `l4lb/vips/tcp/${ip}/80`;
        await store.put(key, JSON.stringify(poisoned(vipDoc(ip, agentIps), path, how)));
        keys.vip.push(key);
        n++;
      }
    }

    // Every agent names every poisoned key in its rejections, with the field.
    for (const [name, a] of cluster.agents) {
      await eventually(
        async () => {
          const st = JSON.parse(await cluster.httpGet(a.host, `${a.url}/rejections`)) as {
            rejected: { source: string; key: string; field: string }[];
          };
          const seen = new Set(st.rejected.map((r) => r.key));
          for (const k of [...keys.peer, ...keys.vip]) assert.ok(seen.has(k), `${name} rejects ${k}`);
          assert.ok(st.rejected.some((r) => r.source === 'peer' && r.field === 'vtep.mac'));
          assert.ok(st.rejected.some((r) => r.source === 'vip' && r.field === 'backends.0.ip'));
        },
        20_000,
        250,
      );
      const metrics = await cluster.httpGet(a.host, `${a.url}/metrics`);
      assert.match(metrics, /dcnet_rejected_input_total\{source="peer",field="vtep\.mac"\} [1-9]/);
      assert.match(metrics, /dcnet_rejected_input_total\{source="vip",field="ip"\} [1-9]/);
    }
    // ... and dcnet status, from the master, shows them per agent.
    await eventually(
      async () => {
        const status = JSON.parse(
          await cluster.httpGet(cluster.master.host, `${cluster.master.url}/overlay-master/status`),
        ) as ClusterStatus;
        assert.equal(status.agents?.length, 3);
        for (const a of status.agents!) assert.ok((a.status?.rejected.length ?? 0) >= 20, JSON.stringify(a));
        const text = formatStatus(status);
        assert.match(text, /rejected inputs \(\d+, skipped; the rest applies\):/);
        assert.match(text, /peer overlay\/nodes\/203\.0\.113\.\d+: vtep\.mac: /);
      },
      15_000,
      250,
    );

    // Nothing was created anywhere: give the resync a few rounds, then compare.
    await new Promise((r) => setTimeout(r, 2500));
    for (const h of hosts()) {
      const now = await snapshot(h);
      assert.ok(!now.links.some((l) => l.startsWith('evil')), `${h.name}: no injected link`);
      assert.ok(!now.nft.some((l) => l.includes('table inet evil')), `${h.name}: no injected nft table`);
      assert.deepEqual(now, before.get(h.name), `${h.name}: kernel state unchanged by the poison`);
    }

    // The data plane still follows the cluster: a new VIP everywhere ...
    await store.put('l4lb/vips/tcp/11.0.0.51/80', JSON.stringify(vipDoc('11.0.0.51', agentIps)));
    for (const h of hosts().slice(1))
      await eventually(async () => assert.match(await vipsMap(h), /11\.0\.0\.51 \. tcp \. 80/), 15_000);
    // ... and a new agent, which refuses the same entries and is routed from every node.
    await cluster.addAgent('a4', 4);
    await cluster.waitReady(30_000, ['a4']);
    const slices = new Map<string, string>();
    for (const name of cluster.agents.keys()) slices.set(name, await sliceOf(name));
    for (const [name, a] of cluster.agents) {
      await eventually(
        async () => {
          const r = await routes97(a.host);
          for (const [other, slice] of slices)
            if (other !== name)
              assert.match(r, new RegExp(`^${slice.replace(/\./g, '\\.')} via`, 'm'), `${name} → ${other}`);
          assert.match(await vipsMap(a.host), /11\.0\.0\.51 \. tcp \. 80/);
        },
        20_000,
        250,
      );
    }
    const a4 = cluster.agent('a4');
    const st4 = JSON.parse(await cluster.httpGet(a4.host, `${a4.url}/rejections`)) as {
      rejected: { key: string }[];
    };
    assert.ok(st4.rejected.length >= keys.peer.length, 'the new agent refuses the poison too');
    for (const h of hosts()) {
      const links = (await snapshot(h)).links;
      assert.ok(!links.some((l) => l.startsWith('evil')), `${h.name}: still no injected link`);
    }
  },
);
