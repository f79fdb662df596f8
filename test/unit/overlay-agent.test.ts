// The agent's pure parts: CNI configs, the Docker network, the masquerading table, the backoff
// schedule, and what a node publishes about itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backoffBound,
  dockerNetworkDifferences,
  dockerNetworkSpec,
  nodeInfoFrom,
  renderCniConflist,
  renderDcosPortMapperConf,
  parseAgentInfo,
  retry,
} from '../../src/overlay/index.js';
import { renderMasqueradeTable } from '../../src/kernel/index.js';
import { must, parseIpv4Cidr, parseIpv6Cidr } from '../../src/net/index.js';
import { fixture } from '../helpers/fixtures.js';

// As the agent reads the master's answer.
const agent = parseAgentInfo(JSON.parse(fixture('overlay-agent-172.17.0.4.json'))).info!;
const dcos = agent.overlays![0]!;
const dcos6 = agent.overlays![1]!;

test('DC/OS port-mapper config, byte for byte (specs/overlay.md §4.4)', () => {
  assert.equal(
    renderDcosPortMapperConf(dcos, { mtu: 1420, dataDir: '/var/run/dcos/cni/networks' }),
    fixture('dcos-cni-172.17.0.4.conf'),
  );
  assert.equal(renderDcosPortMapperConf(dcos6, { mtu: 1420 }), undefined, 'the original has no IPv6 form');
});

test('CNI conflist for the real plugins: bridge + host-local on the Mesos half, then portmap; IPv6 too', () => {
  assert.deepEqual(renderCniConflist(dcos, { mtu: 1420, dataDir: '/run/dcnet/ipam' }), {
    cniVersion: '1.0.0',
    name: 'dcos',
    plugins: [
      {
        type: 'bridge',
        bridge: 'm-dcos',
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        mtu: 1420,
        ipam: {
          type: 'host-local',
          dataDir: '/run/dcnet/ipam',
          ranges: [[{ subnet: '9.0.1.0/25' }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  });
  const six = renderCniConflist(dcos6, { mtu: 1400 })!;
  assert.deepEqual((six.plugins[0] as { ipam: unknown }).ipam, {
    type: 'host-local',
    ranges: [[{ subnet: 'fd01:b:0:0:1::/81' }]],
    routes: [{ dst: '::/0' }],
  });
  const { mesos_bridge: _m, ...noBridge } = dcos;
  assert.equal(renderCniConflist(noBridge, { mtu: 1420 }), undefined);
});

test('Docker network: named after the overlay, bridge d-<name>, no masquerade, MTU, IPv6 only when enabled', () => {
  assert.deepEqual(dockerNetworkSpec(dcos, 1420, true), {
    Name: 'dcos',
    Driver: 'bridge',
    CheckDuplicate: true,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Config: [{ Subnet: '9.0.1.128/25' }] },
    Options: {
      'com.docker.network.bridge.name': 'd-dcos',
      'com.docker.network.bridge.enable_ip_masquerade': 'false',
      'com.docker.network.driver.mtu': '1420',
    },
  });
  const six = dockerNetworkSpec(dcos6, 1420, true)!;
  assert.equal(six.EnableIPv6, true);
  assert.deepEqual(six.IPAM.Config, [{ Subnet: 'fd01:b::1:8000:0:0/81' }]);
  assert.equal(dockerNetworkSpec(dcos6, 1420, false), undefined, 'IPv6 disabled: nothing to create');
});

test('an existing Docker network is checked, not trusted (bug B7)', () => {
  const spec = dockerNetworkSpec(dcos, 1420, true)!;
  const good = {
    Name: 'dcos',
    Driver: 'bridge',
    EnableIPv6: false,
    IPAM: { Config: [{ Subnet: '9.0.1.128/25' }] },
    Options: spec.Options,
  };
  assert.deepEqual(dockerNetworkDifferences(good, spec), []);
  assert.deepEqual(
    dockerNetworkDifferences({ ...good, IPAM: { Config: [{ Subnet: '172.18.0.0/16' }] }, Options: {} }, spec),
    ['subnet 9.0.1.128/25 missing (has 172.18.0.0/16)', 'bridge name is (docker default), not d-dcos'],
  );
});

test('masquerading table: overlay-to-overlay untouched, everything else leaving the overlays masqueraded', () => {
  assert.equal(
    renderMasqueradeTable({
      overlays4: [must(parseIpv4Cidr('9.0.0.0/8'))],
      overlays6: [must(parseIpv6Cidr('fd01:b::/64'))],
    }),
    [
      'table inet dcnet_overlay {}',
      'delete table inet dcnet_overlay',
      'table inet dcnet_overlay {',
      '  set overlays4 {',
      '    type ipv4_addr; flags interval;',
      '    elements = { 9.0.0.0/8 }',
      '  }',
      '  set overlays6 {',
      '    type ipv6_addr; flags interval;',
      '    elements = { fd01:b::/64 }',
      '  }',
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      '    ip saddr @overlays4 ip daddr != @overlays4 masquerade',
      '    ip6 saddr @overlays6 ip6 daddr != @overlays6 masquerade',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  assert.equal(
    renderMasqueradeTable({ overlays4: [], overlays6: [] }),
    'table inet dcnet_overlay {}\ndelete table inet dcnet_overlay\n',
  );
});

test('backoff: 5 s doubling to a 10 min cap, full jitter, stops when aborted', async () => {
  assert.deepEqual(
    Array.from({ length: 10 }, (_, i) => backoffBound(i, 5000, 600_000) / 1000),
    [5, 10, 20, 40, 80, 160, 320, 600, 600, 600],
  );
  const waits: number[] = [];
  let calls = 0;
  const value = await retry(
    async () => {
      if (++calls < 4) throw new Error('down');
      return 'up';
    },
    { minMs: 100, maxMs: 250, random: () => 0.5, sleep: async (ms) => void waits.push(ms) },
  );
  assert.equal(value, 'up');
  assert.deepEqual(waits, [50, 100, 125]);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(
    retry(() => Promise.reject(new Error('x')), { minMs: 1, maxMs: 1, signal: ac.signal }),
    /x/,
  );
});

test('what a node publishes: one VTEP, every configured overlay with its whole subnet and its slices', () => {
  assert.deepEqual(
    nodeInfoFrom(agent, () => true),
    {
      ip: '172.17.0.4',
      vtep: { ip: '44.128.0.2/20', ip6: 'fd01:a::2/64', mac: '70:b3:d5:80:00:02' },
      overlays: [
        { name: 'dcos', overlay_subnet: '9.0.0.0/8', subnet: '9.0.1.0/24' },
        { name: 'dcos6', overlay_subnet6: 'fd01:b::/64', subnet6: 'fd01:b:0:0:1::/80' },
      ],
    },
  );
  assert.deepEqual(
    nodeInfoFrom(agent, (n) => n === 'dcos')!.overlays.map((o) => o.name),
    ['dcos'],
  );
  assert.equal(
    nodeInfoFrom(parseAgentInfo({ ip: '192.0.2.4' }).info!, () => true),
    undefined,
  );
});
