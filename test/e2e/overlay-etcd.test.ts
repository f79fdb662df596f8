// The overlay with its master on etcd (HA mode, one master): stopping etcd entirely leaves every
// data plane forwarding; when etcd returns, changes flow again (a new agent reaches everyone).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OverlayCluster, sweepStale, type Container } from '../../src/sim/index.js';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';

let cluster: OverlayCluster;
let workdir: string;
const containers: Container[] = [];

before(async () => {
  if (NEEDS_ROOT) return;
  await sweepStale();
  workdir = await mkdtemp(join(tmpdir(), 'dcnet-test-e2e-etcd-'));
  cluster = await OverlayCluster.start({
    agents: 2,
    workdir,
    etcd: true,
    agentArgs: () => ['--resync-interval', '1'],
  });
  await cluster.waitReady(30_000);
  for (const name of ['a1', 'a2']) {
    containers.push(
      await cluster.tb.addContainer(cluster.agent(name).host, 'c1', [await cluster.conflist(name, 'dcos')]),
    );
  }
});

after(async () => {
  await cluster?.destroy();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

test(
  'with etcd stopped, containers keep reaching each other; when it returns, a new agent joins everyone',
  { skip: NEEDS_ROOT },
  async () => {
    const [c1, c2] = containers as [Container, Container];
    await eventually(() => cluster.tb.exec(c1.netns, 'ping', ['-c', '1', '-W', '1', c2.ips[0]!]), 10_000);
    await cluster.stopEtcd();
    // Longer than the leader lease and several resyncs: nothing is withdrawn.
    for (let i = 0; i < 8; i++) {
      await cluster.tb.exec(c1.netns, 'ping', ['-c', '1', '-W', '2', c2.ips[0]!]);
      await new Promise((r) => setTimeout(r, 500));
    }
    const routes = (
      await cluster.tb.exec(cluster.agent('a1').host.netns, 'ip', ['route', 'show', 'proto', '97'])
    ).stdout;
    assert.match(routes, /via 44\.128\./);
    await cluster.startEtcd();
    await cluster.addAgent('a3', 3);
    await cluster.waitReady(30_000, ['a3']);
    const a3 = await cluster.agentInfo('a3');
    const slice = a3.overlays!.find((o) => o.info.name === 'dcos')!.subnet!;
    for (const name of ['a1', 'a2']) {
      await eventually(async () => {
        const r = (
          await cluster.tb.exec(cluster.agent(name).host.netns, 'ip', ['route', 'show', 'proto', '97'])
        ).stdout;
        assert.ok(r.includes(`${slice} via`), r);
      }, 20_000);
    }
  },
);
