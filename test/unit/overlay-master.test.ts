// dcnet's overlay master beyond the original: exhaustion handling, refused config changes,
// eager recovery checks, concurrency, and correct IPv6 arithmetic past 255 agents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedStore } from '../../src/store/index.js';
import { AllocationError, RecoveryError, poolUsage, type AgentInfo } from '../../src/overlay/index.js';
import { networkConfig, register, startMaster } from '../helpers/overlay.js';

const small = (over: Record<string, unknown> = {}, overlays?: unknown[]) =>
  networkConfig({
    dcos_overlay_network: {
      vtep_subnet: '44.128.0.0/29', // 6 VTEPs
      vtep_mac_oui: '70:B3:D5:00:00:00',
      overlays: overlays ?? [
        { name: 'a', subnet: '9.0.0.0/23', prefix: 24 }, // 2 slices
        { name: 'b', subnet: '10.0.0.0/8', prefix: 24 },
      ],
      ...over,
    },
  });

test('an exhausted overlay pool registers the agent without that overlay; it gets it once freed', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(small(), store);
  await register(master, '172.16.0.1');
  await register(master, '172.16.0.2');
  const third = await register(master, '172.16.0.3');
  assert.deepEqual(
    third.overlays?.map((o) => o.info.name),
    ['b'],
  );
  const usage = poolUsage(master);
  assert.equal(usage.overlays[0]!.agents_without, 1);
  assert.equal(usage.overlays[0]!.ipv4!.free, 0);
  await master.deleteAgents(['172.16.0.1']);
  const again = await register(master, '172.16.0.3');
  assert.deepEqual(
    again.overlays?.map((o) => [o.info.name, o.subnet]),
    [
      ['a', '9.0.0.0/24'],
      ['b', '10.0.2.0/24'],
    ],
  );
  await store.close();
});

test('an exhausted VTEP pool refuses the registration with a clear error and leaks nothing', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(small({}, [{ name: 'b', subnet: '10.0.0.0/8', prefix: 24 }]), store);
  for (let i = 1; i <= 6; i++) await register(master, `172.16.0.${i}`);
  const before = poolUsage(master);
  await assert.rejects(register(master, '172.16.0.7'), (err: unknown) => {
    assert.ok(err instanceof AllocationError);
    assert.equal(err.code, 'VTEP_EXHAUSTED');
    assert.match(err.message, /no free VTEP IPv4 address in 44\.128\.0\.0\/29 \(6 in use\)/);
    return true;
  });
  assert.deepEqual(poolUsage(master), before);
  assert.equal(master.agentCount, 6);
  await store.close();
});

test('allocate_subnet false: overlays with info and backend only', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(small(), store);
  const info = await register(master, '172.16.0.1', { allocate: false });
  assert.deepEqual(
    info.overlays?.map((o) => [o.info.name, o.subnet, o.mesos_bridge, Boolean(o.backend.vxlan.vtep_ip)]),
    [
      ['a', undefined, undefined, true],
      ['b', undefined, undefined, true],
    ],
  );
  await store.close();
});

test('only the Docker bridge requested: it still gets the upper half', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(networkConfig({}), store);
  const info = await register(master, '172.16.0.1', { mesos: false, docker: true });
  assert.equal(info.overlays?.[0]?.mesos_bridge, undefined);
  assert.deepEqual(info.overlays?.[0]?.docker_bridge, { name: 'd-dcos', ip: '9.0.0.128/25' });
  assert.deepEqual(info.overlays?.[1]?.docker_bridge, { name: 'd-dcos6', ip6: 'fd01:b::8000:0:0/81' });
  await store.close();
});

test('concurrent registrations of one IP yield one allocation', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(networkConfig({}), store);
  const results = await Promise.all(Array.from({ length: 20 }, () => register(master, '172.16.0.1')));
  for (const r of results) assert.deepEqual(r, results[0]);
  assert.equal(master.pools.vtep4.pool.usedCount, 1);
  await store.close();
});

test('IPv6 slices and VTEP IPv6 are exact past 255 agents (the original skipped ::100 and beyond)', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(networkConfig({}), store);
  const infos: AgentInfo[] = [];
  const ips = Array.from({ length: 300 }, (_, i) => `172.16.${i >> 8}.${i & 255}`);
  for (const ip of ips) infos.push(await register(master, ip));
  const last = infos[299]!;
  assert.equal(last.overlays?.[1]?.subnet6, 'fd01:b:0:0:12b::/80');
  assert.equal(last.overlays?.[0]?.backend.vxlan.vtep_ip6, 'fd01:a::12c/64');
  assert.equal(infos[256]!.overlays?.[1]?.subnet6, 'fd01:b:0:0:100::/80');
  assert.equal(last.overlays?.[0]?.backend.vxlan.vtep_mac, '70:b3:d5:80:01:2c');
  const slices = new Set(infos.map((i) => i.overlays?.[1]?.subnet6));
  assert.equal(slices.size, 300);
  await store.close();
});

test('restart refuses changed or removed overlays and VTEP changes, naming each', async () => {
  const store = await EmbeddedStore.open();
  await startMaster(small(), store);
  const changed = small({ vtep_subnet: '44.128.0.0/28', vtep_mac_oui: '70:B3:D6:00:00:00' }, [
    { name: 'a', subnet: '9.0.0.0/22', prefix: 24 },
  ]);
  await assert.rejects(startMaster(changed, store), (err: unknown) => {
    assert.ok(err instanceof RecoveryError);
    const text = err.problems.join('\n');
    assert.match(text, /vtep_subnet changed from 44\.128\.0\.0\/29 to 44\.128\.0\.0\/28/);
    assert.match(text, /vtep_mac_oui changed/);
    assert.match(text, /overlay "a": subnet changed from 9\.0\.0\.0\/23 to 9\.0\.0\.0\/22/);
    assert.match(text, /overlay "b" was removed/);
    return true;
  });
  // Adding an overlay and disabling one are accepted.
  const added = small({}, [
    { name: 'a', subnet: '9.0.0.0/23', prefix: 24, enabled: false },
    { name: 'b', subnet: '10.0.0.0/8', prefix: 24 },
    { name: 'c', subnet: '12.0.0.0/8', prefix: 24 },
  ]);
  const master = await startMaster(added, store);
  const info = await register(master, '172.16.0.1');
  assert.deepEqual(
    info.overlays?.map((o) => [o.info.name, o.info.enabled]),
    [
      ['b', true],
      ['c', true],
    ],
  );
  await store.close();
});

test('recovery refuses damaged or conflicting records, naming the key and field', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(small(), store);
  await register(master, '172.16.0.1');
  const good = (await store.get('overlay/agents/172.16.0.1'))!.value;
  await store.put('overlay/agents/172.16.0.2', good.replace('172.16.0.1', '172.16.0.2'));
  await store.put(
    'overlay/agents/172.16.0.3',
    '{"ip":"172.16.0.3","vtep":{"ip":"44.128.0.3"},"overlays":[]}',
  );
  await store.put('overlay/agents/172.16.0.4', 'not json');
  await assert.rejects(startMaster(small(), store), (err: unknown) => {
    assert.ok(err instanceof RecoveryError);
    const text = err.problems.join('\n');
    assert.match(
      text,
      /overlay\/agents\/172\.16\.0\.2: vtep\.ip: 44\.128\.0\.1 is already the VTEP of another agent/,
    );
    assert.match(text, /overlay\/agents\/172\.16\.0\.3: vtep\.mac: .*expected string/);
    assert.match(text, /overlay\/agents\/172\.16\.0\.4: stored value is not JSON/);
    return true;
  });
  await store.close();
});

test('a registration whose write fails is refused and gives its addresses back', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(small(), store);
  await register(master, '172.16.0.1');
  await store.close();
  await assert.rejects(register(master, '172.16.0.2'), /store is closed/);
  assert.equal(master.pools.vtep4.pool.usedCount, 1);
  assert.equal(master.agentCount, 1);
});

test('an exhausted VTEP IPv6 pool refuses the registration and gives the VTEP IPv4 back', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(small({ vtep_subnet6: 'fd01:a::/126' }), store);
  await register(master, '172.16.0.1');
  await register(master, '172.16.0.2');
  await assert.rejects(register(master, '172.16.0.3'), (err: unknown) => {
    assert.ok(err instanceof AllocationError);
    assert.equal(err.code, 'VTEP6_EXHAUSTED');
    assert.match(err.message, /no free VTEP IPv6 address in fd01:a::\/126 \(2 in use\)/);
    return true;
  });
  assert.equal(master.pools.vtep4.pool.usedCount, 2);
  assert.equal(master.pools.overlays.get('a')!.v4!.pool.usedCount, 2);
  await store.close();
});
