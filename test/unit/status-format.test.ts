// `dcnet status` text: overlays per agent with their outcome, the leader's pool counts, VIPs and
// DNS zones, and other nodes' text escaped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus } from '../../src/cli/status.js';
import type { ClusterStatus, PoolUsage } from '../../src/overlay/index.js';

const M = { url: 'https://192.0.2.100:5050', id: 'm1' } as unknown as ClusterStatus['self'];
const status: ClusterStatus = {
  self: { ...M, leader: true },
  leader: M,
  masters: [M],
  store: { reachable: true, revision: 7 },
  agents: [
    {
      ip: '192.0.2.1',
      vtep: '44.128.0.1',
      published: true,
      lease: '1',
      status: {
        updated: '2026-01-01T00:00:00Z',
        rejected: [],
        dataplane: { failures: [] },
        resolv_conf: 'upstream',
        overlays: [
          { name: 'dcos', status: 'STATUS_OK' },
          { name: 'dcos6', status: 'STATUS_FAILED', error: 'docker: network d-dcos6 exists\n\x1b[2J' },
        ],
      },
    },
  ],
  summary: { vips: 3, dnsZones: ['dcos.thisdcos.directory', 'l4lb.thisdcos.directory'] },
};
const pools: PoolUsage = {
  agents: 1,
  vtep: { ipv4: { subnet: '44.128.0.0/20', size: 4094, used: 1, free: 4093 } },
  overlays: [
    {
      name: 'dcos',
      enabled: true,
      ipv4: { subnet: '9.0.0.0/8', prefix: 24, size: 65536, used: 1, free: 65535 },
      agents_without: 0,
    },
    {
      name: 'tiny',
      enabled: true,
      ipv4: { subnet: '192.0.2.0/30', prefix: 31, size: 2, used: 2, free: 0 },
      agents_without: 1,
    },
  ],
};

test('overlays per agent: STATUS_OK, and STATUS_FAILED with its reason, escaped', () => {
  const text = formatStatus(status, pools);
  assert.match(text, /overlay dcos: STATUS_OK\n/);
  assert.match(text, /overlay dcos6: STATUS_FAILED: "docker: network d-dcos6 exists\\n\\u001b\[2J"/);
  assert.ok(!text.includes('\x1b'), 'no raw escape character');
  assert.match(text, /resolv\.conf: UPSTREAM \(the node DNS did not answer ready\.spartan\)/);
});

test("the leader's pools, exhausted ones flagged; VIP count and zones", () => {
  const text = formatStatus(status, pools);
  assert.match(text, /pools \(the leader's allocations, 1 agents\):/);
  assert.match(text, /vtep +44\.128\.0\.0\/20 +1 used of 4094, 4093 free\n/);
  assert.match(text, /dcos +9\.0\.0\.0\/8 \/24 +1 used of 65536, 65535 free\n/);
  assert.match(text, /tiny +192\.0\.2\.0\/30 \/31 +2 used of 2, 0 free {2}EXHAUSTED/);
  assert.match(text, /1 agent\(s\) registered without tiny: its pool is full/);
  assert.match(text, /VIPs: 3/);
  assert.match(
    text,
    /DNS zones served by every node \(2\): dcos\.thisdcos\.directory, l4lb\.thisdcos\.directory/,
  );
});

test('pools that could not be read say why; no zones says so', () => {
  const text = formatStatus({ ...status, summary: { vips: 0, dnsZones: [] } }, { error: 'HTTP 503' });
  assert.match(text, /pools: unavailable: HTTP 503/);
  assert.match(text, /VIPs: 0/);
  assert.match(text, /DNS zones served by every node \(0\): none published/);
});
