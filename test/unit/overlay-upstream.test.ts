// The upstream tests of dcos-mesos-modules (specs/overlay.md §5), master side, as conformance cases.
// Agent-side parts (ipset/iptables, CNI files, Docker) belong to the agent's tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedStore } from '../../src/store/index.js';
import type { AgentInfo, AgentOverlayInfo } from '../../src/overlay/index.js';
import { ackAll, networkConfig, register, startMaster } from '../helpers/overlay.js';

const MZ = { name: 'mz-overlay', subnet: '192.168.0.0/16', prefix: 24, subnet6: 'fd02::/64', prefix6: 80 };

/** The fixture master config of overlay_tests.cpp, with extra overlays appended (proto merge). */
function fixtureConfig(
  extra: Record<string, unknown>[] = [],
  over: Record<string, unknown> = {},
  base: Record<string, unknown>[] = [MZ],
) {
  return networkConfig({
    dcos_overlay_network: {
      vtep_subnet: '44.128.0.0/16',
      vtep_subnet6: 'fd03::/64',
      vtep_mac_oui: '70:B3:D5:00:00:00',
      overlays: [...base, ...extra],
      ...over,
    },
    // The upstream cases add an overlay in 11.0.0.0/8, DC/OS's default named-VIP range (which a
    // real config would refuse): the VIP range moves aside so that the upstream values stay.
    dcos_l4lb_min_named_ip: '198.51.100.0',
    dcos_l4lb_max_named_ip: '198.51.100.255',
  });
}

const noBridges = { mesos: false, docker: false };
const overlay = (info: AgentInfo, name: string): AgentOverlayInfo => {
  const o = info.overlays?.find((x) => x.info.name === name);
  assert.ok(o, `agent has overlay ${name}`);
  return o;
};
const masterEntry = (state: string, ip: string): unknown =>
  (JSON.parse(state) as { agents?: { ip: string }[] }).agents?.find((a) => a.ip === ip);

test('checkMasterAgentComm: network before any agent, then the agent entry equals the agent info', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(fixtureConfig(), store);
  const before = JSON.parse(master.stateJson()) as { agents?: unknown; network: { overlays: unknown[] } };
  assert.equal(before.agents, undefined);
  assert.deepEqual(before.network.overlays, [{ ...MZ, enabled: true }]);
  const info = await register(master, '172.17.0.2', noBridges);
  ackAll(master, info);
  assert.equal(info.overlays?.length, 1);
  const o = overlay(info, 'mz-overlay');
  assert.equal(o.subnet, '192.168.0.0/24');
  assert.equal(o.subnet6, 'fd02::/80');
  assert.equal(o.mesos_bridge, undefined);
  assert.equal(o.docker_bridge, undefined);
  assert.deepEqual(
    masterEntry(master.stateJson(), '172.17.0.2'),
    JSON.parse(master.agentInfo('172.17.0.2')!.json),
  );
  assert.equal(
    overlay(JSON.parse(master.agentInfo('172.17.0.2')!.json) as AgentInfo, 'mz-overlay').state?.status,
    'STATUS_OK',
  );
  await store.close();
});

test('implied fixture values of the first node with both bridges', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(fixtureConfig(), store);
  const o = overlay(await register(master, '172.17.0.2'), 'mz-overlay');
  assert.deepEqual(o.backend.vxlan, {
    vni: 1024,
    vtep_name: 'vtep1024',
    vtep_ip: '44.128.0.1/16',
    vtep_mac: '70:b3:d5:80:00:01',
    vtep_ip6: 'fd03::1/64',
  });
  assert.equal(o.subnet, '192.168.0.0/24');
  assert.deepEqual(o.mesos_bridge, { name: 'm-mz-overlay', ip: '192.168.0.0/25', ip6: 'fd02::/81' });
  assert.deepEqual(o.docker_bridge, {
    name: 'd-mz-overlay',
    ip: '192.168.0.128/25',
    ip6: 'fd02::8000:0:0/81',
  });
  await store.close();
});

test('ROOT_checkMasterRecovery: a restarted master (same durable store) gives the same allocation', async (t) => {
  const dir = await import('node:fs/promises').then((fs) => fs.mkdtemp('/tmp/dcnet-test-recovery-'));
  t.after(() => import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true })));
  let store = await EmbeddedStore.open({ dataDir: dir });
  let master = await startMaster(fixtureConfig(), store);
  const first = await register(master, '172.17.0.2');
  ackAll(master, first);
  const entry = master.agentInfo('172.17.0.2')!.json;
  await store.close();
  store = await EmbeddedStore.open({ dataDir: dir });
  master = await startMaster(fixtureConfig(), store);
  // Eager recovery: the agent is there before it registers again (the original showed none).
  assert.equal(master.agentCount, 1);
  const again = await register(master, '172.17.0.2');
  ackAll(master, again);
  assert.deepEqual(again, first);
  assert.equal(master.agentInfo('172.17.0.2')!.json, entry);
  await store.close();
});

test('ROOT_checkAgentNetworkConfigChange: existing allocations are never revised', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(fixtureConfig(), store);
  const first = await register(master, '172.17.0.2');
  assert.ok(overlay(first, 'mz-overlay').mesos_bridge && overlay(first, 'mz-overlay').docker_bridge);
  const second = await register(master, '172.17.0.2', noBridges);
  assert.deepEqual(second, first);
  await store.close();
});

test('ROOT_checkAddVirtualNetworks: an overlay added on restart reaches the agent on re-registration', async () => {
  const store = await EmbeddedStore.open();
  let master = await startMaster(fixtureConfig(), store);
  await register(master, '172.17.0.2', noBridges);
  const extra = { name: 'mz-overlay-2', subnet: '11.0.0.0/8', prefix: 24, subnet6: 'fd04::/64', prefix6: 80 };
  master = await startMaster(fixtureConfig([extra]), store);
  const info = await register(master, '172.17.0.2', noBridges);
  const state = JSON.parse(master.stateJson()) as {
    agents: unknown[];
    network: { overlays: { subnet?: string; subnet6?: string }[] };
  };
  assert.equal(state.agents.length, 1);
  assert.equal(state.network.overlays.length, 2);
  assert.equal(state.network.overlays[1]!.subnet, '11.0.0.0/8');
  assert.equal(state.network.overlays[1]!.subnet6, 'fd04::/64');
  assert.equal(info.overlays?.length, 2);
  const o2 = overlay(info, 'mz-overlay-2');
  assert.equal(o2.subnet, '11.0.0.0/24');
  assert.equal(o2.info.subnet, '11.0.0.0/8');
  assert.equal(o2.subnet6, 'fd04::/80');
  assert.equal(o2.info.subnet6, 'fd04::/64');
  assert.equal(overlay(info, 'mz-overlay').subnet, '192.168.0.0/24');
  await store.close();
});

test('checkMTUConfiguration: vtep_mtu reaches the backend', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(fixtureConfig([], { vtep_mtu: 9000 }), store);
  assert.equal(overlay(await register(master, '172.17.0.2'), 'mz-overlay').backend.vxlan.vtep_mtu, 9000);
  await store.close();
});

test('checkIPv6Configuration: VTEP IPv6 appears when vtep_subnet6 and an IPv6-only overlay are added', async () => {
  const store = await EmbeddedStore.open();
  const v4only = { name: 'mz-overlay', subnet: '192.168.0.0/16', prefix: 24 };
  const cfg = (over: Record<string, unknown>, overlays: unknown[]) =>
    networkConfig({
      dcos_overlay_network: {
        vtep_subnet: '44.128.0.0/16',
        vtep_mac_oui: '70:B3:D5:00:00:00',
        overlays,
        ...over,
      },
    });
  let master = await startMaster(cfg({}, [v4only]), store);
  const first = await register(master, '172.17.0.2', noBridges);
  assert.equal(overlay(first, 'mz-overlay').backend.vxlan.vtep_ip6, undefined);
  const ip6only = { name: 'mz-test-ip6', subnet6: 'fd04::/64', prefix6: 80 };
  master = await startMaster(cfg({ vtep_subnet6: 'fd03::/64' }, [v4only, ip6only]), store);
  const info = await register(master, '172.17.0.2', noBridges);
  assert.equal(info.overlays?.length, 2);
  const o = overlay(info, 'mz-test-ip6');
  assert.equal(o.subnet, undefined);
  assert.equal(o.subnet6, 'fd04::/80');
  assert.equal(o.backend.vxlan.vtep_ip6, 'fd03::1/64');
  // dcnet: one backend per node, so the older overlay carries the VTEP IPv6 too (bug B3 fixed).
  assert.equal(overlay(info, 'mz-overlay').backend.vxlan.vtep_ip6, 'fd03::1/64');
  assert.equal(overlay(info, 'mz-overlay').backend.vxlan.vtep_ip, '44.128.0.1/16');
  await store.close();
});

test('ROOT_checkDisabledIPV6OverlayNetwork: a disabled overlay is not allocated until enabled', async () => {
  const store = await EmbeddedStore.open();
  const v4only = { name: 'mz-overlay', subnet: '192.168.0.0/16', prefix: 24 };
  const v6 = { name: 'mz-overlay-2', subnet6: 'fd02::/64', prefix6: 80 };
  let master = await startMaster(fixtureConfig([{ ...v6, enabled: false }], {}, [v4only]), store);
  assert.equal((await register(master, '172.17.0.2', noBridges)).overlays?.length, 1);
  master = await startMaster(fixtureConfig([v6], {}, [v4only]), store);
  const info = await register(master, '172.17.0.2', noBridges);
  assert.equal(info.overlays?.length, 2);
  assert.equal(overlay(info, 'mz-overlay-2').subnet6, 'fd02::/80');
  await store.close();
});

test('checkMasterAgentDeletion: deleted agents vanish and get the same lowest-free allocation back', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(
    fixtureConfig([{ name: 'mz-overlay-2', subnet6: 'fd04::/64', prefix6: 80 }]),
    store,
  );
  const before = JSON.parse(master.stateJson()) as { agents?: unknown[]; network: { overlays: unknown[] } };
  assert.equal(before.network.overlays.length, 2);
  assert.equal(before.agents, undefined);
  const first = await register(master, '172.17.0.2', noBridges);
  ackAll(master, first);
  const entry = master.agentInfo('172.17.0.2')!.json;
  assert.deepEqual(await master.deleteAgents(['172.17.0.2', '172.17.0.99']), ['172.17.0.2']);
  assert.equal((JSON.parse(master.stateJson()) as { agents?: unknown[] }).agents, undefined);
  assert.equal(master.pools.vtep4.pool.usedCount, 0);
  const again = await register(master, '172.17.0.2', noBridges);
  ackAll(master, again);
  assert.deepEqual(again, first);
  assert.equal(master.agentInfo('172.17.0.2')!.json, entry);
  await store.close();
});
