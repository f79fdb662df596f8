// IP-form VIP labels are tenant input that every node programs ahead of real destinations
// (CVE-2020-8554's pattern): outside the configured ranges, or on an address the cluster uses (a
// node, a master, an overlay gateway or VTEP, loopback, the DNS addresses, another task), the VIP
// is refused with a named error; the other VIPs of the same task and state keep working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMesosState } from '../../src/cluster/index.js';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import {
  clusterVipPolicy,
  DEFAULT_VIP_POLICY,
  deriveVipTable,
  vipKey,
  type VipAddressPolicy,
} from '../../src/l4lb/index.js';
import { parseCidr } from '../../src/net/index.js';
import { fixture } from '../helpers/fixtures.js';

const ATTACKS: [string, string][] = [
  ['VIP_0', '10.0.0.2:80'], // agent S1
  ['VIP_1', '10.0.0.100:80'], // the leading master (state.leader)
  ['VIP_2', '10.0.0.101:80'], // another master (--mesos)
  ['VIP_3', '9.0.1.1:80'], // an overlay gateway
  ['VIP_4', '44.128.0.1:80'], // a VTEP
  ['VIP_5', '127.0.0.1:80'],
  ['VIP_6', '::1:80'],
  ['VIP_7', '198.51.100.1:53'],
  ['VIP_8', '198.51.100.2:53'],
  ['VIP_9', '198.51.100.3:53'],
  ['VIP_10', '9.0.1.2:80'], // task web.1
  ['VIP_11', '10.0.0.102:80'], // this master's own interface
  ['VIP_12', '192.0.2.55:80'], // nobody's, but outside the ranges
  ['VIP_13', '169.254.169.254:80'], // metadata services
  ['VIP_14', '11.1.2.3:80'], // fine
  ['VIP_15', 'fd01:c::5:80'], // fine
  ['VIP_16', '/evil-named:80'], // fine
];

function stateWithAttacker() {
  const doc = JSON.parse(fixture('l4lb/state.json')) as { frameworks: { tasks: unknown[] }[] };
  doc.frameworks[0]!.tasks.push({
    id: 'evil.1',
    name: 'evil',
    framework_id: 'F0',
    slave_id: 'S1',
    state: 'TASK_RUNNING',
    statuses: [{ state: 'TASK_RUNNING', timestamp: 9 }],
    discovery: {
      name: 'evil',
      ports: {
        ports: [
          {
            number: 31500,
            protocol: 'tcp',
            labels: { labels: ATTACKS.map(([key, value]) => ({ key, value })) },
          },
        ],
      },
    },
  });
  return parseMesosState(doc);
}

const cidr = (t: string) => parseCidr(t)!;

const CLUSTER: VipAddressPolicy = clusterVipPolicy({
  namedRanges: [
    { min: '11.0.0.0', max: '11.255.255.255' },
    { min: 'fd01:c::', max: 'fd01:c::ffff:ffff:ffff:ffff' },
  ],
  // The operator also allows the underlay: node addresses in it stay forbidden.
  extraRanges: [cidr('10.0.0.0/8')],
  overlays: [
    { name: 'dcos', subnet: cidr('9.0.0.0/8') },
    { name: 'dcos6', subnet: cidr('fd01:b::/64') },
  ],
  vtepSubnets: [cidr('44.128.0.0/20'), cidr('fd01:a::/64')],
  masters: ['10.0.0.100', '10.0.0.101'],
  localAddresses: ['127.0.0.1', '10.0.0.102', 'fe80::1'],
});

const evilErrors = (policy: VipAddressPolicy) => {
  const { table, errors } = deriveVipTable(stateWithAttacker(), { policy });
  return {
    table,
    errors: errors.filter((e) => e.task === 'evil.1').map((e) => [e.label, e.code, e.message]),
    others: errors.filter((e) => e.task !== 'evil.1'),
  };
};

test('IP VIPs on cluster addresses are refused by name; the task’s good VIPs and all others work', () => {
  const { table, errors, others } = evilErrors(CLUSTER);
  const forbidden = (label: string, ip: string, what: string) => [
    label,
    'VIP_ADDRESS_FORBIDDEN',
    `${ip} is ${what}; a VIP may not take it`,
  ];
  assert.deepEqual(errors, [
    forbidden('VIP_0', '10.0.0.2', 'the address of agent S1 (10.0.0.2)'),
    forbidden('VIP_1', '10.0.0.100', 'the address of the leading Mesos master'),
    forbidden('VIP_2', '10.0.0.101', 'the address of a Mesos master'),
    forbidden('VIP_3', '9.0.1.1', 'inside overlay dcos (9.0.0.0/8: containers and their gateways)'),
    forbidden('VIP_4', '44.128.0.1', 'inside the VTEP pool 44.128.0.0/20'),
    forbidden('VIP_5', '127.0.0.1', 'loopback'),
    forbidden('VIP_6', '::1', 'loopback'),
    forbidden('VIP_7', '198.51.100.1', 'a DC/OS DNS address'),
    forbidden('VIP_8', '198.51.100.2', 'a DC/OS DNS address'),
    forbidden('VIP_9', '198.51.100.3', 'a DC/OS DNS address'),
    forbidden('VIP_10', '9.0.1.2', 'the address of task web.1'),
    forbidden('VIP_11', '10.0.0.102', "an address of this master's node"),
    [
      'VIP_12',
      'VIP_OUTSIDE_RANGES',
      '192.0.2.55 is outside the IP VIP ranges (11.0.0.0-11.255.255.255, 10.0.0.0/8)',
    ],
    forbidden('VIP_13', '169.254.169.254', 'link-local (metadata services live here)'),
  ]);
  // The fixture's own label errors are unchanged.
  assert.deepEqual(
    others.map((e) => e.code),
    ['VIP_NO_SUCH_PORT', 'VIP_NO_PORT', 'VIP_BAD_PORT', 'VIP_NAME_UNUSABLE', 'VIP_BAD_PROTOCOL'],
  );
  const keys = table.vips.map(vipKey);
  assert.equal(table.vips.length, 8 + 3, keys.join(' '));
  const ok = table.vips.find((v) => vipKey(v) === 'tcp/11.1.2.3/80')!;
  assert.deepEqual(ok.backends, [
    { ip: '10.0.0.2', port: 31500, weight: 2, agent: '10.0.0.2', task: 'evil.1' },
  ]);
  assert.ok(keys.includes('tcp/fd01:c::5/80'));
  assert.ok(table.vips.some((v) => v.name?.label === '/evil-named'));
  assert.ok(
    table.vips.some((v) => v.name?.label === '/web'),
    'the other tasks’ VIPs stay',
  );
  for (const [, value] of ATTACKS.slice(0, 14))
    assert.ok(!keys.some((k) => k.includes(`/${value.slice(0, value.lastIndexOf(':'))}/`)), value);
});

test('without cluster context the defaults still hold: ranges 11.0.0.0/8 and fd01:c::/64, state addresses out', () => {
  const { errors, table } = evilErrors(DEFAULT_VIP_POLICY);
  const byLabel = new Map(errors.map(([label, code, message]) => [label, `${code}: ${message}`]));
  assert.equal(
    byLabel.get('VIP_0'),
    'VIP_ADDRESS_FORBIDDEN: 10.0.0.2 is the address of agent S1 (10.0.0.2); a VIP may not take it',
  );
  assert.equal(
    byLabel.get('VIP_1'),
    'VIP_ADDRESS_FORBIDDEN: 10.0.0.100 is the address of the leading Mesos master; a VIP may not take it',
  );
  assert.match(
    byLabel.get('VIP_2')!,
    /^VIP_OUTSIDE_RANGES: 10\.0\.0\.101 is outside the IP VIP ranges \(11\.0\.0\.0\/8\)$/,
  );
  assert.match(byLabel.get('VIP_6')!, /^VIP_ADDRESS_FORBIDDEN: ::1 is loopback/);
  assert.match(byLabel.get('VIP_9')!, /^VIP_ADDRESS_FORBIDDEN: 198\.51\.100\.3 is a DC\/OS DNS address/);
  assert.match(byLabel.get('VIP_10')!, /^VIP_ADDRESS_FORBIDDEN: 9\.0\.1\.2 is the address of task web\.1/);
  assert.equal(byLabel.has('VIP_14') || byLabel.has('VIP_15') || byLabel.has('VIP_16'), false);
  assert.ok(table.vips.some((v) => vipKey(v) === 'tcp/11.1.2.3/80'));
  // And an empty options object means the same defaults.
  assert.deepEqual(
    deriveVipTable(stateWithAttacker()).errors,
    deriveVipTable(stateWithAttacker(), { policy: DEFAULT_VIP_POLICY }).errors,
  );
});

test('config: dcos_l4lb_* ranges, named errors for bad ones and for ranges over overlays', () => {
  const cfg = parseConfig({
    dcos_l4lb_min_named_ip: '11.0.0.0',
    dcos_l4lb_max_named_ip: '11.0.255.255',
    dcos_l4lb_ip_vip_ranges: '["192.0.2.0/24", "2001:db8::/64"]',
  });
  assert.deepEqual(cfg.l4lb.namedRange4, { min: '11.0.0.0', max: '11.0.255.255' });
  assert.deepEqual(cfg.l4lb.namedRange6, { min: 'fd01:c::', max: 'fd01:c::ffff:ffff:ffff:ffff' });
  assert.deepEqual(cfg.l4lb.ipVipRanges, [cidr('192.0.2.0/24'), cidr('2001:db8::/64')]);
  assert.deepEqual(
    parseConfig({ dcos_l4lb_ip_vip_ranges: '198.51.100.0/25, 203.0.113.0/24' }).l4lb.ipVipRanges,
    [cidr('198.51.100.0/25'), cidr('203.0.113.0/24')],
  );
  assert.deepEqual(parseConfig({}).l4lb.ipVipRanges, []);
  try {
    parseConfig({
      dcos_l4lb_min_named_ip: '11.0.0.9',
      dcos_l4lb_max_named_ip: '11.0.0.1',
      dcos_l4lb_min_named_ip6: '11.0.0.0',
      dcos_l4lb_ip_vip_ranges: ['nope', '9.1.0.0/16', '44.128.0.0/24'],
    });
    assert.fail('accepted');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems, [
      'dcos_l4lb_max_named_ip: 11.0.0.1 must be above dcos_l4lb_min_named_ip 11.0.0.9',
      'dcos_l4lb_min_named_ip6: "11.0.0.0" is not an IPv6 address',
      'dcos_l4lb_ip_vip_ranges[0]: "nope" is not a CIDR',
      'dcos_l4lb_ip_vip_ranges[1]: 9.1.0.0/16 overlaps overlay "dcos" (9.0.0.0/8): containers and nodes live there',
      'dcos_l4lb_ip_vip_ranges[2]: 44.128.0.0/24 overlaps dcos_overlay_network.vtep_subnet (44.128.0.0/20): containers and nodes live there',
    ]);
  }
});
