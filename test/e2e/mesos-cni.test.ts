// UCR tasks started the way a Mesos agent's network/cni isolator starts them, with only the files
// `dcnet agent` wrote in the agent's CNI config directory and the plugins in its plugins
// directory (the system's plus dcnet's mesos-cni-port-mapper): addresses from the ip4/ip6 result,
// reached across hosts, a port mapping reached on its host port; and the old conflist default
// refused the way Mesos refuses it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  agentIsolatorFor,
  launchTask,
  OverlayCluster,
  parseApp,
  sweepStale,
  type LaunchedTask,
  type TopoAgent,
} from '../../src/sim/index.js';
import { renderCniConflist } from '../../src/overlay/index.js';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';

let cluster: OverlayCluster;
let workdir: string;
const tasks: LaunchedTask[] = [];

const topoAgent = (name: string, cniDir?: string): TopoAgent => {
  const a = cluster.agent(name);
  return {
    name,
    netns: a.host.netns,
    ip: a.host.ip,
    public: false,
    cniDir: cniDir ?? a.cniDir,
    cniPluginsDir: a.cniPluginsDir,
  };
};

const app = (id: string, network: string, hostPort?: number) =>
  parseApp(
    {
      id,
      cmd: 'serve',
      networks: [{ mode: 'container', name: network }],
      container: {
        type: 'MESOS',
        portMappings: [{ containerPort: 80, ...(hostPort !== undefined && { hostPort }), protocol: 'tcp' }],
      },
    },
    ['dcos', 'dcos6', 'dual'],
  );

async function launch(
  agent: string,
  id: string,
  network: string,
  opts: { hostPort?: number; cniDir?: string } = {},
): Promise<LaunchedTask> {
  const topo = topoAgent(agent, opts.cniDir);
  const t = await launchTask({
    taskId: `${id}.${Math.random().toString(16).slice(2, 10)}`,
    app: app(`/${id}`, network, opts.hostPort),
    agent: topo,
    agentIndex: Number(agent.slice(1)),
    hostPorts: [opts.hostPort],
    workdir,
  });
  tasks.push(t);
  return t;
}

const curl = async (ns: string, url: string): Promise<string> =>
  (await cluster.tb.exec(ns, 'curl', ['-sS', '-m', '3', '-g', url])).stdout.trim();

before(async () => {
  if (NEEDS_ROOT) return;
  await sweepStale();
  workdir = await mkdtemp(join(tmpdir(), 'dcnet-test-e2e-mesos-cni-'));
  // The DC/OS overlays plus one with both families, which DC/OS' own config cannot give a UCR task.
  const config = join(workdir, 'config.yaml');
  await writeFile(
    config,
    [
      'dcos_overlay_network:',
      '  vtep_subnet: 44.128.0.0/20',
      '  vtep_subnet6: "fd01:a::/64"',
      '  vtep_mac_oui: "70:B3:D5:00:00:00"',
      '  overlays:',
      '    - {name: dcos, subnet: 9.0.0.0/8, prefix: 24}',
      '    - {name: dcos6, subnet6: "fd01:b::/64", prefix6: 80}',
      '    - {name: dual, subnet: 203.0.113.0/24, prefix: 26, subnet6: "fd01:d::/64", prefix6: 80}',
      '',
    ].join('\n'),
  );
  cluster = await OverlayCluster.start({ agents: 2, workdir, masterArgs: ['--config', config] });
  await cluster.waitReady(30_000);
  // The agents have written their Mesos configs.
  for (const name of ['a1', 'a2'])
    await eventually(async () => {
      const files = (await readdir(cluster.agent(name).cniDir)).sort();
      assert.deepEqual(files, ['dcos.conf', 'dcos6.conf', 'dual.conf']);
    }, 15_000);
});

after(async () => {
  for (const t of tasks) await t.destroy().catch(() => {});
  await cluster?.destroy();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

test(
  'a UCR task on dcos and one on dcos6 start from the .conf files alone and are reached across hosts',
  { skip: NEEDS_ROOT },
  async () => {
    // Nothing but what the agent wrote: the directory holds Mesos configs and no conflist.
    const conf = JSON.parse(await readFile(join(cluster.agent('a1').cniDir, 'dcos.conf'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(conf.type, 'mesos-cni-port-mapper');
    const t4 = await launch('a1', 'web4', 'dcos');
    const t6 = await launch('a1', 'web6', 'dcos6');
    assert.equal(t4.ips.length, 1);
    assert.match(t4.ips[0]!, /^9\./, `dcos task address ${t4.ips[0]}`);
    assert.equal(t6.ips.length, 1);
    assert.ok(t6.ips[0]!.includes(':'), `dcos6 task address ${t6.ips[0]}`);
    const client4 = await launch('a2', 'client4', 'dcos');
    const client6 = await launch('a2', 'client6', 'dcos6');
    await eventually(
      async () => assert.match(await curl(client4.netns, `http://${t4.ips[0]}:80/`), /web4/),
      15_000,
    );
    await eventually(
      async () => assert.match(await curl(client6.netns, `http://[${t6.ips[0]}]:80/`), /web6/),
      15_000,
    );
  },
);

test(
  'a UCR task on an overlay with both families gets ip4 and ip6 from one attachment, both reached',
  { skip: NEEDS_ROOT },
  async () => {
    const t = await launch('a1', 'dual', 'dual');
    assert.equal(t.ips.length, 2, `addresses ${t.ips.join(', ')}`);
    assert.match(t.ips[0]!, /^203\.0\.113\./);
    assert.match(t.ips[1]!, /^fd01:d:/);
    const client = await launch('a2', 'dualclient', 'dual');
    await eventually(
      async () => assert.match(await curl(client.netns, `http://${t.ips[0]}:80/`), /dual/),
      15_000,
    );
    await eventually(
      async () => assert.match(await curl(client.netns, `http://[${t.ips[1]}]:80/`), /dual/),
      15_000,
    );
  },
);

test(
  'a UCR task with portMappings on dcos is reached on its host port from another host',
  { skip: NEEDS_ROOT },
  async () => {
    const t = await launch('a1', 'mapped', 'dcos', { hostPort: 31080 });
    const a1 = cluster.agent('a1').host.ip;
    await eventually(
      async () => assert.match(await curl(cluster.agent('a2').host.netns, `http://${a1}:31080/`), /mapped/),
      15_000,
    );
    // On the agent itself too (locally generated traffic goes through the output hook).
    await eventually(
      async () => assert.match(await curl(cluster.agent('a1').host.netns, `http://${a1}:31080/`), /mapped/),
      15_000,
    );
    // Destroying the task removes its DNAT rules (DEL before the delegate's DEL, as in Mesos).
    await t.destroy();
    tasks.splice(tasks.indexOf(t), 1);
    const rules = (
      await cluster.tb.exec(cluster.agent('a1').host.netns, 'nft', [
        'list',
        'table',
        'inet',
        'dcnet_port_mapper',
      ])
    ).stdout;
    assert.doesNotMatch(rules, /container_id: mapped/);
  },
);

test(
  'the old default (a cniVersion 1.0.0 conflist, no top-level type) is refused as Mesos refuses it',
  { skip: NEEDS_ROOT },
  async () => {
    const info = await cluster.agentInfo('a1');
    const overlay = info.overlays!.find((o) => o.info.name === 'dcos')!;
    const list = renderCniConflist(overlay, { mtu: 1420, dataDir: join(workdir, 'old-ipam') })!;
    const dir = join(workdir, 'old-default');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'dcos.conflist'), JSON.stringify(list));
    const errors: string[] = [];
    const isolator = agentIsolatorFor(topoAgent('a1', dir), { error: (m) => errors.push(m), info: () => {} });
    assert.deepEqual(await isolator.networks(), []);
    assert.deepEqual(errors, [
      `Failed to parse CNI network configuration file '${join(dir, 'dcos.conflist')}': Protobuf parse failed: Missing required fields: type`,
    ]);
    await assert.rejects(launch('a1', 'old', 'dcos', { cniDir: dir }), {
      message: "Could not get valid CNI configuration for network 'dcos': Unknown CNI network 'dcos'",
    });
  },
);
