// The overlay end to end, in network namespaces with the real kernel: one master and three
// agents, containers attached by the real CNI bridge plugin with the configs the agents wrote, a
// real dockerd creating the Docker network on one host. Traffic stays inside the test bed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  importBusybox,
  OverlayCluster,
  startDockerd,
  startHttpServer,
  sweepStale,
  type Container,
  type Dockerd,
} from '../../src/sim/index.js';
import type { AgentInfo } from '../../src/overlay/index.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';

const GRACE_S = 4;
let cluster: OverlayCluster;
let dockerd: Dockerd;
let workdir: string;
const containers = new Map<string, Container>();

const routes = async (agent: string): Promise<string> =>
  (
    await cluster.tb.exec(cluster.agent(agent).host.netns, 'ip', [
      'route',
      'show',
      'table',
      'all',
      'proto',
      '97',
    ])
  ).stdout;
const fdb = async (agent: string): Promise<string> =>
  (await cluster.tb.exec(cluster.agent(agent).host.netns, 'bridge', ['fdb', 'show', 'dev', 'vtep1024']))
    .stdout;
const neighbours = async (agent: string): Promise<string> =>
  (
    await cluster.tb.exec(cluster.agent(agent).host.netns, 'ip', [
      'neigh',
      'show',
      'dev',
      'vtep1024',
      'nud',
      'permanent',
    ])
  ).stdout;
const slice = (info: AgentInfo, overlay: string): string =>
  info.overlays!.find((o) => o.info.name === overlay)!.subnet ?? '';
const slice6 = (info: AgentInfo, overlay: string): string =>
  info.overlays!.find((o) => o.info.name === overlay)!.subnet6 ?? '';
const curl = async (ns: string, url: string): Promise<string> =>
  (await cluster.tb.exec(ns, 'curl', ['-sS', '-m', '3', '-g', url])).stdout.trim();

before(async () => {
  if (NEEDS_ROOT) return;
  await sweepStale();
  workdir = await mkdtemp(join(tmpdir(), 'dcnet-test-e2e-overlay-'));
  cluster = await OverlayCluster.start({
    agents: 3,
    workdir,
    agentArgs: () => ['--resync-interval', '1', '--grace-period', String(GRACE_S)],
    prepareHost: async (name, host, dir, tb) => {
      if (name === 'a2') dockerd = await startDockerd(tb, host, dir);
      if (name === 'a5') {
        // A Docker network of the overlay's name that someone made by hand, with the wrong subnet.
        const d = await startDockerd(tb, host, dir);
        await d.cli(['network', 'create', '--subnet', '172.30.0.0/24', 'dcos']);
      }
    },
  });
  await cluster.waitReady(30_000);
});

after(async () => {
  // Processes (dockerd and its mounts) first, then their files.
  await cluster?.destroy();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

test(
  'agents register and configure: statuses, CNI conflists, Docker network, vtep1024',
  { skip: NEEDS_ROOT },
  async () => {
    for (const name of ['a1', 'a2', 'a3']) {
      const info = await cluster.agentInfo(name);
      assert.equal(info.configuration_attempts, 1);
      assert.deepEqual(
        info.overlays!.map((o) => [o.info.name, o.state?.status]),
        [
          ['dcos', 'STATUS_OK'],
          ['dcos6', 'STATUS_OK'],
        ],
      );
      const list = await cluster.conflist(name, 'dcos');
      const bridge = list.plugins[0] as {
        bridge: string;
        mtu: number;
        ipam: { ranges: { subnet: string }[][] };
      };
      assert.equal(bridge.bridge, 'm-dcos');
      assert.equal(bridge.mtu, 1420);
      assert.deepEqual(bridge.ipam.ranges, [[{ subnet: info.overlays![0]!.mesos_bridge!.ip! }]]);
      const link = JSON.parse(
        (
          await cluster.tb.exec(cluster.agent(name).host.netns, 'ip', [
            '-j',
            '-d',
            'link',
            'show',
            'vtep1024',
          ])
        ).stdout,
      ) as {
        address: string;
        mtu: number;
        linkinfo: { info_data: { id: number; port: number; learning: boolean } };
      }[];
      const vx = info.overlays![0]!.backend.vxlan;
      assert.equal(link[0]!.address, vx.vtep_mac);
      assert.equal(link[0]!.mtu, 1420);
      assert.deepEqual(
        [
          link[0]!.linkinfo.info_data.id,
          link[0]!.linkinfo.info_data.port,
          link[0]!.linkinfo.info_data.learning,
        ],
        [1024, 64000, false],
      );
    }
    // The real dockerd on a2 got the overlay's Docker network: named after the overlay, bridge d-dcos.
    const a2 = await cluster.agentInfo('a2');
    const net = JSON.parse(await dockerd.cli(['network', 'inspect', 'dcos'])) as {
      IPAM: { Config: { Subnet: string }[] };
      Options: Record<string, string>;
    }[];
    assert.deepEqual(
      net[0]!.IPAM.Config.map((c) => c.Subnet),
      [a2.overlays![0]!.docker_bridge!.ip],
    );
    assert.equal(net[0]!.Options['com.docker.network.bridge.name'], 'd-dcos');
    assert.equal(net[0]!.Options['com.docker.network.bridge.enable_ip_masquerade'], 'false');
    assert.equal(net[0]!.Options['com.docker.network.driver.mtu'], '1420');
    // The IPv6-only overlay's Docker network carries the IPv6 half.
    const net6 = JSON.parse(await dockerd.cli(['network', 'inspect', 'dcos6'])) as {
      EnableIPv6: boolean;
      IPAM: { Config: { Subnet: string }[] };
    }[];
    assert.equal(net6[0]!.EnableIPv6, true);
    // (Docker 20.10 adds an IPv4 subnet of its own to every network, IPv6-only ones too.)
    assert.ok(net6[0]!.IPAM.Config.some((c) => c.Subnet === a2.overlays![1]!.docker_bridge!.ip6));
    // The agent endpoint: JSON (and JSONP) only; a client that accepts neither gets 415.
    const a1 = cluster.agent('a1');
    const { stdout: code } = await cluster.tb.exec(a1.host.netns, 'curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-H',
      'accept: application/x-protobuf',
      `${a1.url}/overlay-agent/overlay`,
    ]);
    assert.equal(code, '415');
    assert.match(
      await cluster.httpGet(a1.host, `${a1.url}/overlay-agent/overlay?jsonp=f`),
      /^f\(\{"configuration_attempts":1,"ip":"10\.250\.0\.1",/,
    );
    await eventually(
      async () => assert.match(await cluster.httpGet(a1.host, `${a1.url}/metrics`), /dcnet_overlay_peers 3/),
      5000,
    );
    // Masquerading table in place on every agent.
    const nft = (
      await cluster.tb.exec(cluster.agent('a1').host.netns, 'nft', ['list', 'table', 'inet', 'dcnet_overlay'])
    ).stdout;
    assert.match(nft, /ip saddr @overlays4 ip daddr != @overlays4 masquerade/);
  },
);

test(
  'containers reach each other across hosts: IPv4 and TCP, IPv6, a Docker-half address',
  { skip: NEEDS_ROOT },
  async () => {
    for (const name of ['a1', 'a3']) {
      const lists = [await cluster.conflist(name, 'dcos'), await cluster.conflist(name, 'dcos6')];
      containers.set(name, await cluster.tb.addContainer(cluster.agent(name).host, 'c1', lists));
    }
    const c1 = containers.get('a1')!;
    const c3 = containers.get('a3')!;
    const [a1, a3] = [await cluster.agentInfo('a1'), await cluster.agentInfo('a3')];
    assert.ok(
      c1.ips[0]!.startsWith(slice(a1, 'dcos').split('.').slice(0, 3).join('.')),
      `${c1.ips[0]} in ${slice(a1, 'dcos')}`,
    );
    assert.ok(c3.ips[1]!.includes(':'), 'IPv6 address from the dcos6 conflist');
    await cluster.tb.exec(c1.netns, 'ping', ['-c', '2', '-W', '2', c3.ips[0]!]);
    await cluster.tb.exec(c1.netns, 'ping', ['-6', '-c', '2', '-W', '2', c3.ips[1]!]);
    await startHttpServer(cluster.tb, c3.netns, 8080, 'c3');
    // Overlay to overlay: no NAT, the server sees the client's container address.
    assert.equal(await curl(c1.netns, `http://${c3.ips[0]}:8080/`), `c3 ${c1.ips[0]}`);
    assert.equal(await curl(c1.netns, `http://[${c3.ips[1]}]:8080/`), `c3 ${c1.ips[1]}`);
    // A Docker container on a2, on the Docker half, reached from a1's container.
    const image = await importBusybox(dockerd, join(workdir, 'a2'));
    await dockerd.cli([
      'run',
      '-d',
      '--name',
      'web',
      '--network',
      'dcos',
      image,
      '/bin/httpd',
      '-f',
      '-p',
      '8080',
      '-h',
      '/www',
    ]);
    const ip = (
      await dockerd.cli(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', 'web'])
    ).trim();
    const a2 = await cluster.agentInfo('a2');
    assert.equal(
      ip.split('.').slice(0, 3).join('.'),
      a2.overlays![0]!.docker_bridge!.ip!.split('.').slice(0, 3).join('.'),
    );
    await cluster.tb.exec(c1.netns, 'ping', ['-c', '2', '-W', '2', ip]);
    assert.equal(await eventually(() => curl(c1.netns, `http://${ip}:8080/`), 5000), 'dcnet busybox');
    void a3;
  },
);

test(
  'traffic leaving the overlay is masqueraded and goes through the tunnel (table 42)',
  { skip: NEEDS_ROOT },
  async () => {
    const c1 = containers.get('a1')!;
    const a2 = cluster.agent('a2').host;
    await startHttpServer(cluster.tb, a2.netns, 8090, 'a2-host');
    const a1 = await cluster.agentInfo('a1');
    const vtep = a1.overlays![0]!.backend.vxlan.vtep_ip.split('/')[0];
    // Source rewritten to a1's VTEP address: routed via vtep1024 by table 42, masqueraded on the way.
    assert.equal(await curl(c1.netns, `http://${a2.ip}:8090/`), `a2-host ${vtep}`);
  },
);

test('a route deleted by hand comes back within the resync interval', { skip: NEEDS_ROOT }, async () => {
  const target = slice(await cluster.agentInfo('a3'), 'dcos');
  assert.match(await routes('a1'), new RegExp(`^${target.replace(/\./g, '\\.')} via`, 'm'));
  await cluster.tb.exec(cluster.agent('a1').host.netns, 'ip', ['route', 'del', target]);
  assert.doesNotMatch(await routes('a1'), new RegExp(`^${target.replace(/\./g, '\\.')} via`, 'm'));
  const started = Date.now();
  await eventually(
    async () => assert.match(await routes('a1'), new RegExp(`^${target.replace(/\./g, '\\.')} via`, 'm')),
    3000,
    50,
  );
  assert.ok(Date.now() - started < 2500, `repaired in ${Date.now() - started} ms`);
});

test(
  'with the master down traffic keeps flowing; when it returns, a new agent reaches everyone',
  { skip: NEEDS_ROOT },
  async () => {
    const c1 = containers.get('a1')!;
    const c3 = containers.get('a3')!;
    await cluster.stopMaster('SIGKILL');
    await cluster.tb.exec(c1.netns, 'ping', ['-c', '3', '-i', '0.3', '-W', '2', c3.ips[0]!]);
    assert.equal(await curl(c1.netns, `http://${c3.ips[0]}:8080/`), `c3 ${c1.ips[0]}`);
    cluster.restartMaster();
    await cluster.addAgent('a4', 4);
    await cluster.waitReady(30_000, ['a4']);
    const a4 = await cluster.agentInfo('a4');
    for (const name of ['a1', 'a2', 'a3']) {
      await eventually(
        async () =>
          assert.match(
            await routes(name),
            new RegExp(`^${slice(a4, 'dcos').replace(/\./g, '\\.')} via`, 'm'),
          ),
        10_000,
      );
    }
  },
);

test('an agent daemon that restarts keeps its routes on every other node', { skip: NEEDS_ROOT }, async () => {
  const target = slice(await cluster.agentInfo('a3'), 'dcos');
  const has = async (): Promise<boolean> => (await routes('a1')).includes(`${target} via`);
  await cluster.stopAgent('a3');
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    assert.ok(await has(), 'route kept while the agent is down');
    await new Promise((r) => setTimeout(r, 100));
  }
  cluster.startAgent('a3');
  await cluster.waitReady(20_000, ['a3']);
  // Beyond the old lease's lifetime the route is still there: the restarted agent republished.
  const until2 = Date.now() + (GRACE_S + 1) * 1000;
  while (Date.now() < until2) {
    assert.ok(await has(), 'route kept after the restart');
    await new Promise((r) => setTimeout(r, 200));
  }
});

test(
  'a deleted agent disappears from every node: routes, neighbours, FDB',
  { skip: NEEDS_ROOT },
  async () => {
    const a3 = await cluster.agentInfo('a3');
    const vx = a3.overlays![0]!.backend.vxlan;
    const target = slice(a3, 'dcos');
    const target6 = slice6(a3, 'dcos6');
    await cluster.stopAgent('a3');
    const started = Date.now();
    await cluster.httpPost(cluster.master.host, `${cluster.master.url}/overlay-master/agents/delete`, {
      agents: [a3.ip],
    });
    for (const name of ['a1', 'a2', 'a4']) {
      await eventually(async () => {
        const r = await routes(name);
        assert.ok(!r.includes(target) && !r.includes(target6) && !r.includes(`${a3.ip} via`), r);
        assert.ok(!(await fdb(name)).includes(vx.vtep_mac));
        assert.ok(!(await neighbours(name)).includes(vx.vtep_ip.split('/')[0]!));
      }, 5000);
    }
    assert.ok(Date.now() - started < 5000);
  },
);

test(
  'a conflicting Docker network fails that overlay with the reason; the others still work',
  { skip: NEEDS_ROOT },
  async () => {
    await cluster.addAgent('a5', 5);
    const info = await eventually(async () => {
      const i = await cluster.agentInfo('a5');
      assert.ok(
        i.overlays?.every((o) => o.state?.status === 'STATUS_OK' || o.state?.status === 'STATUS_FAILED'),
        JSON.stringify(i),
      );
      return i;
    }, 30_000);
    const dcos = info.overlays!.find((o) => o.info.name === 'dcos')!;
    assert.equal(dcos.state?.status, 'STATUS_FAILED', cluster.agent('a5').proc.output().slice(-4000));
    assert.match(
      dcos.state?.error ?? '',
      /docker: existing network "dcos" does not match: subnet 9\.0\.\d+\.128\/25 missing \(has 172\.30\.0\.0\/24\)/,
    );
    assert.equal(info.overlays!.find((o) => o.info.name === 'dcos6')!.state?.status, 'STATUS_OK');
    // The master shows the failure too, from the agent's report.
    const state = JSON.parse(
      await cluster.httpGet(cluster.master.host, `${cluster.master.url}/overlay-master/state`),
    ) as { agents: AgentInfo[] };
    const entry = state.agents.find((a) => a.ip === info.ip)!;
    assert.equal(entry.overlays!.find((o) => o.info.name === 'dcos')!.state?.status, 'STATUS_FAILED');
    // Peers do not route the failed overlay's slice to it, but do route the working one.
    const a1routes = await eventually(async () => {
      const r = await routes('a1');
      assert.ok(r.includes(slice6(info, 'dcos6')), r);
      return r;
    }, 10_000);
    assert.ok(!a1routes.includes(`${slice(info, 'dcos')} via`), a1routes);
  },
);
