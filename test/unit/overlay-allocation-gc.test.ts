// Allocation GC: an agent whose node entry (under its lease) has been gone longer than
// dcnet_overlay_allocation_gc gets its VTEP address and subnets back into the pools; within that
// time a returning agent keeps its allocation, also across a master restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedStore, type Store } from '../../src/store/index.js';
import { AllocationError, OverlayMaster, nodeKey, type AgentInfo } from '../../src/overlay/index.js';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { networkConfig } from '../helpers/overlay.js';
import { testLogger } from '../helpers/log.js';

const config = networkConfig({
  dcos_overlay_network: {
    vtep_subnet: '44.128.0.0/28', // 14 VTEP addresses
    vtep_mac_oui: '70:B3:D5:00:00:00',
    overlays: [{ name: 'dcos', subnet: '9.0.0.0/16', prefix: 24 }],
  },
});
const GC_S = 60;
const agentIp = (i: number): string => `192.0.2.${i + 1}`;
const vtepOf = (info: AgentInfo): string | undefined => info.overlays?.[0]?.backend.vxlan.vtep_ip;

function clock(): { now: () => number; advance: (s: number) => void } {
  let t = 1_800_000_000_000;
  return { now: () => t, advance: (s) => (t += s * 1000) };
}

const start = (store: Store, now: () => number): Promise<OverlayMaster> =>
  OverlayMaster.start(config, store, testLogger(), {}, undefined, { allocationGcSeconds: GC_S, now });

async function register(master: OverlayMaster, ip: string): Promise<AgentInfo> {
  return (await master.register({ ip, mesosBridge: true, dockerBridge: true, allocateSubnet: true })).info;
}

/** An agent comes up (registers, publishes its node entry under a lease); `leave` drops the lease. */
async function arrive(
  master: OverlayMaster,
  store: Store,
  ip: string,
): Promise<{ info: AgentInfo; leave: () => Promise<void> }> {
  const info = await register(master, ip);
  const lease = await store.grantLease(10);
  await store.put(nodeKey(ip), JSON.stringify({ ip }), { lease });
  return { info, leave: () => store.revokeLease(lease) };
}

const until = async (pred: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('a /28 VTEP pool: after 14 departed agents the 15th gets an address once the GC time has passed', async (t) => {
  const store = await EmbeddedStore.open();
  const c = clock();
  const master = await start(store, c.now);
  t.after(async () => {
    master.stop();
    await store.close();
  });
  const vteps = new Map<string, string>();
  for (let i = 0; i < 14; i++) {
    const a = await arrive(master, store, agentIp(i));
    vteps.set(agentIp(i), vtepOf(a.info)!);
    await a.leave();
  }
  await until(() => master.goneSince().size === 14);
  await assert.rejects(register(master, agentIp(14)), (e: AllocationError) => e.code === 'VTEP_EXHAUSTED');

  c.advance(GC_S - 1);
  await master.collectNow();
  await assert.rejects(register(master, agentIp(14)), AllocationError, 'not yet: one second left');
  assert.equal(master.agentCount, 14);

  c.advance(2);
  await master.collectNow();
  assert.equal(master.agentCount, 0, 'all 14 departed agents were freed');
  const fifteenth = await register(master, agentIp(14));
  assert.equal(vtepOf(fifteenth), vteps.get(agentIp(0)), 'the lowest freed address');
  assert.equal((await store.range('overlay/agent-gone/')).kvs.length, 0, 'no marks left behind');
  assert.equal((await store.range('overlay/agents/')).kvs.length, 1);
});

test('an agent returning within the GC time keeps its allocation; its mark goes', async (t) => {
  const store = await EmbeddedStore.open();
  const c = clock();
  const master = await start(store, c.now);
  t.after(async () => {
    master.stop();
    await store.close();
  });
  const first = await arrive(master, store, agentIp(0));
  await first.leave();
  await until(() => master.goneSince().has(agentIp(0)));
  c.advance(GC_S - 5);
  await master.collectNow();
  const back = await arrive(master, store, agentIp(0));
  assert.equal(vtepOf(back.info), vtepOf(first.info));
  assert.deepEqual(back.info.overlays?.[0]?.subnet, first.info.overlays?.[0]?.subnet);
  await until(() => master.goneSince().size === 0);
  assert.equal((await store.get('overlay/agent-gone/192.0.2.1')) ?? null, null);
  c.advance(GC_S * 10);
  await master.collectNow();
  assert.equal(master.agentCount, 1, 'an agent that is alive is never freed');
});

test('a registration after the mark spares the agent even before its node entry is back', async (t) => {
  const store = await EmbeddedStore.open();
  const c = clock();
  const master = await start(store, c.now);
  t.after(async () => {
    master.stop();
    await store.close();
  });
  const a = await arrive(master, store, agentIp(0));
  await a.leave();
  await until(() => master.goneSince().has(agentIp(0)));
  c.advance(GC_S + 1);
  await register(master, agentIp(0)); // back, not yet published
  await master.collectNow();
  assert.equal(master.agentCount, 1);
});

test('"gone since" survives a master restart: the clock is not reset', async (t) => {
  const store = await EmbeddedStore.open();
  const c = clock();
  let master = await start(store, c.now);
  t.after(async () => {
    master.stop();
    await store.close();
  });
  const a = await arrive(master, store, agentIp(0));
  await a.leave();
  await until(() => master.goneSince().has(agentIp(0)));
  const since = master.goneSince().get(agentIp(0))!.since;
  master.stop();
  c.advance(GC_S - 10);
  master = await start(store, c.now);
  assert.equal(master.goneSince().get(agentIp(0))?.since, since, 'kept in the store');
  c.advance(11);
  await master.collectNow();
  assert.equal(master.agentCount, 0, 'freed by its original clock');
});

test('an agent that registered and never published is marked by a sweep and freed after the GC time', async (t) => {
  const store = await EmbeddedStore.open();
  const c = clock();
  const master = await start(store, c.now);
  t.after(async () => {
    master.stop();
    await store.close();
  });
  await register(master, agentIp(0));
  c.advance(1);
  await master.collectNow();
  assert.equal(master.goneSince().get(agentIp(0))?.since, c.now());
  c.advance(GC_S + 1);
  await master.collectNow();
  assert.equal(master.agentCount, 0);
});

test('dcnet_overlay_allocation_gc: default 24 h, 0 allowed, nonsense refused naming the key', () => {
  assert.equal(parseConfig({}).allocationGcSeconds, 86_400);
  assert.equal(parseConfig({ dcnet_overlay_allocation_gc: 0 }).allocationGcSeconds, 0);
  assert.equal(parseConfig({ dcnet_overlay_allocation_gc: '3600' }).allocationGcSeconds, 3600);
  for (const bad of [-1, 1.5, 1e12, 'soon']) {
    assert.throws(
      () => parseConfig({ dcnet_overlay_allocation_gc: bad }),
      (e: ConfigError) => e instanceof ConfigError && /dcnet_overlay_allocation_gc/.test(e.message),
      String(bad),
    );
  }
});
