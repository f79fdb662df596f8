// The access table of the control plane, as pure rules: which store writes an identity may make.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AGENT_LEASE_MAX_TTL_S,
  agentOwnKeys,
  CONTROL_PLANE_ROUTES,
  isReservedKey,
  LEADER_KEY,
  storeDecision,
} from '../../src/overlay/index.js';
import type { Identity } from '../../src/pki/index.js';

const agent: Identity = { role: 'agent', ips: ['192.0.2.1'], name: '192.0.2.1' };
const master: Identity = { role: 'master', ips: ['192.0.2.100'], name: '192.0.2.100' };
const operator: Identity = { role: 'operator', ips: [], name: 'alice' };
const put = (key: string, lease?: string) => ({
  type: 'put' as const,
  key,
  value: '{}',
  ...(lease && { lease }),
});

test('access: an agent writes exactly its own node keys, under leases it must own', () => {
  assert.deepEqual([...agentOwnKeys(agent)].sort(), [
    'overlay/node-status/192.0.2.1',
    'overlay/nodes/192.0.2.1',
  ]);
  assert.deepEqual(
    storeDecision(agent, { op: 'txn', request: { success: [put('overlay/nodes/192.0.2.1', '7')] } }),
    {
      allow: true,
      ownLeases: ['7'],
      quota: false,
    },
  );
  for (const key of [
    'overlay/nodes/192.0.2.2',
    'overlay/nodes/192.0.2.1x',
    'overlay/agents/192.0.2.1',
    'overlay/network',
    'l4lb/vips/x',
    'dns/zones/mesos.thisdcos.directory',
  ]) {
    const d = storeDecision(agent, {
      op: 'txn',
      request: { success: [put('overlay/nodes/192.0.2.1'), put(key)] },
    });
    assert.equal(d.allow, false, key);
    assert.equal(!d.allow && d.reason, 'not-own-key', key);
  }
  // A delete hidden in the failure branch counts too; compares are reads and free.
  const hidden = storeDecision(agent, {
    op: 'txn',
    request: {
      compare: [{ key: 'overlay/agents/192.0.2.2', target: 'version', result: 'equal', value: 0 }],
      success: [],
      failure: [{ type: 'delete', key: 'overlay/nodes/192.0.2.2' }],
    },
  });
  assert.equal(hidden.allow, false);
  assert.deepEqual(
    storeDecision(agent, {
      op: 'txn',
      request: {
        compare: [{ key: 'overlay/agents/192.0.2.2', target: 'version', result: 'equal', value: 0 }],
        success: [{ type: 'delete', key: 'overlay/node-status/192.0.2.1' }],
      },
    }),
    { allow: true, ownLeases: [], quota: false },
  );
});

test('access: reserved keys (leader, master presence, lease owners) are written by nobody over the API', () => {
  for (const key of [LEADER_KEY, 'overlay/masters/https://x', 'auth/leases/agent:192.0.2.1/5']) {
    assert.ok(isReservedKey(key), key);
    for (const id of [agent, master]) {
      const d = storeDecision(id, { op: 'txn', request: { success: [{ type: 'delete', key }, put(key)] } });
      assert.equal(!d.allow && d.reason, 'reserved-key', `${id.role} ${key}`);
    }
  }
  assert.equal(isReservedKey('overlay/leaders'), false);
  assert.equal(storeDecision(master, { op: 'txn', request: { success: [put('l4lb/vips/x')] } }).allow, true);
});

test('access: operators read and administer but hold no leases and write nothing in the store', () => {
  assert.equal(storeDecision(operator, { op: 'range', prefix: '' }).allow, true);
  assert.equal(storeDecision(operator, { op: 'watch', prefix: 'overlay/' }).allow, true);
  for (const d of [
    storeDecision(operator, { op: 'txn', request: { success: [put('overlay/nodes/192.0.2.1')] } }),
    storeDecision(operator, { op: 'lease-grant', ttl: 10 }),
    storeDecision(operator, { op: 'lease-revoke', lease: '1' }),
  ])
    assert.equal(!d.allow && d.reason, 'role');
});

test('access: agents grant leases within quota and TTL, and keep alive or revoke only their own', () => {
  assert.deepEqual(storeDecision(agent, { op: 'lease-grant', ttl: 30 }), {
    allow: true,
    ownLeases: [],
    quota: true,
  });
  const long = storeDecision(agent, { op: 'lease-grant', ttl: AGENT_LEASE_MAX_TTL_S + 1 });
  assert.equal(!long.allow && long.reason, 'lease-quota');
  assert.deepEqual(storeDecision(agent, { op: 'lease-keepalive', lease: '9' }), {
    allow: true,
    ownLeases: ['9'],
    quota: false,
  });
  assert.deepEqual(storeDecision(master, { op: 'lease-revoke', lease: '9' }), {
    allow: true,
    ownLeases: [],
    quota: false,
  });
});

test('access: the route table names each route once and says who may call it', () => {
  const keys = CONTROL_PLANE_ROUTES.map((r) => `${r.method} ${r.url}`);
  assert.equal(new Set(keys).size, keys.length, 'a route listed twice');
  const rule = (m: string, u: string) => CONTROL_PLANE_ROUTES.find((r) => r.method === m && r.url === u)!;
  assert.equal(rule('GET', '/health').allow, 'public');
  assert.deepEqual(rule('POST', '/overlay-master/agents/delete').allow, ['operator', 'master']);
  assert.deepEqual(rule('POST', '/overlay-master/agents').allow, ['agent', 'master']);
  assert.ok(rule('POST', '/overlay-master/agents').actsAs);
  assert.ok(rule('POST', '/overlay-master/agents/ack').actsAs);
  assert.deepEqual(rule('POST', '/store/v1/txn').allow, ['agent', 'master']);
  // Only /health is open.
  assert.deepEqual(
    CONTROL_PLANE_ROUTES.filter((r) => r.allow === 'public').map((r) => r.url),
    ['/health'],
  );
});
