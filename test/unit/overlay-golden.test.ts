// specs/overlay.md §6: the three-node state of the DC/OS docs, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedStore } from '../../src/store/index.js';
import { fixture } from '../helpers/fixtures.js';
import { ackAll, networkConfig, register, startMaster } from '../helpers/overlay.js';

test('DC/OS defaults, master .2 without bridges then agents .4 and .3: exact /overlay-master/state bytes', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(networkConfig({}), store);
  assert.equal(
    master.stateJson(),
    '{"network":{"overlays":[{"enabled":true,"name":"dcos","prefix":24,"subnet":"9.0.0.0\\/8"},{"enabled":true,"name":"dcos6","prefix6":80,"subnet6":"fd01:b::\\/64"}],"vtep_mac_oui":"70:B3:D5:00:00:00","vtep_subnet":"44.128.0.0\\/20","vtep_subnet6":"fd01:a::\\/64"}}',
  );
  ackAll(master, await register(master, '172.17.0.2', { mesos: false, docker: false }));
  ackAll(master, await register(master, '172.17.0.4'));
  ackAll(master, await register(master, '172.17.0.3'));
  assert.equal(master.stateJson(), fixture('overlay-state-3-nodes.json'));

  // The agent endpoint example of §4.7 is the master's entry plus configuration_attempts.
  const agent = JSON.parse(fixture('overlay-agent-172.17.0.4.json')) as Record<string, unknown>;
  delete agent.configuration_attempts;
  assert.deepEqual(JSON.parse(master.agentInfo('172.17.0.4')!.json), agent);
  await store.close();
});

test('registration order, not IP order, and a re-registration answers the same bytes', async () => {
  const store = await EmbeddedStore.open();
  const master = await startMaster(networkConfig({}), store);
  await register(master, '10.0.0.9');
  await register(master, '10.0.0.1');
  const before = master.agentInfo('10.0.0.9')!.json;
  await register(master, '10.0.0.9');
  assert.equal(master.agentInfo('10.0.0.9')!.json, before);
  const state = JSON.parse(master.stateJson()) as { agents: { ip: string }[] };
  assert.deepEqual(
    state.agents.map((a) => a.ip),
    ['10.0.0.9', '10.0.0.1'],
  );
  await store.close();
});
