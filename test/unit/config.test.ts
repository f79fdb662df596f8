import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig, parseConfigText, loadConfig } from '../../src/config/index.js';

function problems(doc: unknown): string[] {
  try {
    parseConfig(doc);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.problems];
  }
  assert.fail('config was accepted');
}

const net = (over: Record<string, unknown> = {}, overlays?: unknown[]) => ({
  dcos_overlay_network: {
    vtep_subnet: '44.128.0.0/20',
    vtep_mac_oui: '70:B3:D5:00:00:00',
    overlays: overlays ?? [{ name: 'dcos', subnet: '9.0.0.0/8', prefix: 24 }],
    ...over,
  },
});

test('no config means the DC/OS defaults', async () => {
  const cfg = await loadConfig();
  assert.equal(cfg.network.raw.vtep_subnet, '44.128.0.0/20');
  assert.equal(cfg.network.raw.vtep_subnet6, 'fd01:a::/64');
  assert.equal(cfg.network.raw.vtep_mac_oui, '70:B3:D5:00:00:00');
  assert.deepEqual(
    cfg.network.overlays.map((o) => [o.name, o.v4?.text, o.v4?.prefix, o.v6?.text, o.v6?.prefix, o.enabled]),
    [
      ['dcos', '9.0.0.0/8', 24, undefined, undefined, true],
      ['dcos6', undefined, undefined, 'fd01:b::/64', 80, true],
    ],
  );
  assert.equal(cfg.overlayMtu, 1420);
  assert.equal(cfg.network.vtepMtu, undefined);
});

test('dcos_overlay_network as a JSON string (as in DC/OS config.yaml) and unknown DC/OS keys', () => {
  const cfg = parseConfigText(
    [
      'cluster_name: test',
      'resolvers: ["127.0.0.53"]',
      `dcos_overlay_network: '{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70:B3:D5:00:00:00","vtep_mtu":1500,"overlays":[{"name":"dcos","subnet":"9.0.0.0/8","prefix":26}]}'`,
      "dcos_overlay_mtu: '1400'",
    ].join('\n'),
  );
  assert.equal(cfg.network.overlays[0]!.v4!.prefix, 26);
  assert.equal(cfg.network.vtepMtu, 1500);
  assert.equal(cfg.overlayMtu, 1400);
  assert.deepEqual(cfg.ignoredKeys, ['cluster_name', 'resolvers']);
});

test('enable_ipv6 false disables IPv6-only overlays, as the DC/OS installer does', () => {
  const cfg = parseConfig({ enable_ipv6: 'false' });
  assert.deepEqual(
    cfg.network.overlays.map((o) => [o.name, o.enabled]),
    [
      ['dcos', true],
      ['dcos6', false],
    ],
  );
  assert.equal(cfg.network.raw.overlays[1]!.enabled, false);
});

test('§2.1 rules: VTEP subnet, OUI, reserved, duplicate and long names, overlaps', () => {
  assert.match(problems(net({ vtep_subnet: '44.128.0.0/7' }))[0]!, /vtep_subnet: prefix \/7 is out of range/);
  assert.match(
    problems(net({ vtep_subnet: 'fd01::/64' }))[0]!,
    /vtep_subnet: "fd01::\/64" is not an IPv4 CIDR/,
  );
  assert.match(
    problems(net({ vtep_mac_oui: '70:B3:D5:00:00:01' }))[0]!,
    /vtep_mac_oui: .*three bytes must be zero/,
  );
  assert.match(problems(net({ vtep_subnet6: '10.0.0.0/8' }))[0]!, /vtep_subnet6: .* not an IPv6 CIDR/);
  for (const name of ['host', 'bridge', 'default', 'none']) {
    assert.match(
      problems(net({}, [{ name, subnet: '9.0.0.0/8', prefix: 24 }]))[0]!,
      new RegExp(`overlays\\[0\\]\\.name \\(overlay "${name}"\\): "${name}" is reserved`),
    );
  }
  assert.equal(
    parseConfig(net({}, [{ name: 'abcdefghijklm', subnet: '9.0.0.0/8', prefix: 24 }])).network.overlays[0]!
      .name,
    'abcdefghijklm',
  );
  assert.match(
    problems(net({}, [{ name: 'abcdefghijklmn', subnet: '9.0.0.0/8', prefix: 24 }]))[0]!,
    /14 characters is too long: at most 13/,
  );
  const dup = problems(
    net({}, [
      { name: 'a', subnet: '9.0.0.0/8', prefix: 24 },
      { name: 'a', subnet: '10.0.0.0/8', prefix: 24 },
    ]),
  );
  assert.match(dup[0]!, /overlays\[1\]\.name \(overlay "a"\): duplicate of overlays\[0\]/);
  const overlap = problems(
    net({}, [
      { name: 'a', subnet: '9.0.0.0/8', prefix: 24 },
      { name: 'b', subnet: '9.1.0.0/16', prefix: 24 },
    ]),
  );
  assert.match(
    overlap[0]!,
    /overlays\[1\]\.subnet \(overlay "b"\): 9\.1\.0\.0\/16 overlaps overlays\[0\] "a" \(9\.0\.0\.0\/8\)/,
  );
  assert.match(problems(net({}, []))[0]!, /at least one overlay is required/);
});

test('rules the original forgot: prefix range, VTEP overlap, empty name, no subnet, stray prefix', () => {
  const one = (o: Record<string, unknown>, over: Record<string, unknown> = {}) =>
    problems(net(over, [{ name: 'x', ...o }]));
  assert.match(
    one({ subnet: '9.0.0.0/8', prefix: 7 })[0]!,
    /overlays\[0\]\.prefix \(overlay "x"\): 7 is out of range: must be 8 .* to 30/,
  );
  assert.match(one({ subnet: '9.0.0.0/8', prefix: 31 })[0]!, /prefix .* 31 is out of range/);
  assert.match(one({ subnet: '9.0.0.0/8' })[0]!, /prefix \(overlay "x"\): is required with subnet/);
  assert.match(
    one({ subnet6: 'fd01:b::/64', prefix6: 127 })[0]!,
    /prefix6 .* 127 is out of range: must be 64 .* to 126/,
  );
  assert.match(one({ subnet: '44.128.0.0/16', prefix: 24 })[0]!, /overlaps the VTEP pool vtep_subnet/);
  assert.match(
    one({ subnet6: 'fd01:a::/48', prefix6: 80 }, { vtep_subnet6: 'fd01:a::/64' })[0]!,
    /overlaps the VTEP pool vtep_subnet6/,
  );
  assert.match(one({})[0]!, /overlays\[0\] \(overlay "x"\): needs a subnet, a subnet6, or both/);
  assert.match(
    one({ subnet: '9.0.0.0/8', prefix: 24, prefix6: 80 })[0]!,
    /prefix6 \(overlay "x"\): is set but subnet6 is missing/,
  );
  assert.match(
    problems(net({}, [{ name: '', subnet: '9.0.0.0/8', prefix: 24 }]))[0]!,
    /overlays\[0\]\.name: must not be empty/,
  );
  assert.match(
    one({ subnet: '9.0.0.0/8', prefix: 24 }, { vtep_mtu: 100 })[0]!,
    /vtep_mtu: 100 is out of range/,
  );
});

test('structural errors name the field and the overlay; every problem is reported at once', () => {
  const p = problems({
    dcos_overlay_network: {
      vtep_subnet: 44,
      vtep_mac_oui: '70:B3:D5:00:00:00',
      overlays: [{ name: 'dcos', subnet: '9.0.0.0/8', prefix: '24', sbnet6: 'x' }],
    },
  });
  assert.ok(
    p.some((m) => /^dcos_overlay_network\.vtep_subnet: .*expected string/.test(m)),
    p.join('\n'),
  );
  assert.ok(
    p.some((m) =>
      /^dcos_overlay_network\.overlays\[0\]\.prefix \(overlay "dcos"\): .*expected number/.test(m),
    ),
    p.join('\n'),
  );
  assert.ok(
    p.some((m) =>
      /^dcos_overlay_network\.overlays\[0\] \(overlay "dcos"\): Unrecognized key: "sbnet6"/.test(m),
    ),
    p.join('\n'),
  );
  assert.match(problems({ dcos_overlay_network: '{not json' })[0]!, /dcos_overlay_network: not valid JSON/);
  assert.match(problems({ enable_ipv6: 'maybe' })[0]!, /enable_ipv6: must be true or false/);
  assert.throws(() => parseConfigText('a: [1,'), /not valid YAML/);
  assert.throws(() => parseConfigText('- 1\n- 2'), /must be a mapping/);
});

test('dcos_overlay_mtu above the VTEP MTU is refused, naming both keys', () => {
  const [p] = problems({ ...net(), dcos_overlay_mtu: 1500 });
  assert.match(p!, /^dcos_overlay_mtu: 1500 is above dcos_overlay_network\.vtep_mtu \(1420, the default\)/);
  assert.match(
    problems({ ...net({ vtep_mtu: 9000 }), dcos_overlay_mtu: 9001 })[0]!,
    /above .*vtep_mtu \(9000\)/,
  );
  assert.equal(parseConfig({ ...net({ vtep_mtu: 1500 }), dcos_overlay_mtu: 1500 }).overlayMtu, 1500);
  assert.equal(parseConfig({ ...net({ vtep_mtu: 1500 }), dcos_overlay_mtu: 1450 }).overlayMtu, 1450);
});

test('overlay and VTEP subnets overlapping the named VIP ranges are refused, naming the keys', () => {
  // The default named range is 11.0.0.0–11.255.255.255.
  const [p] = problems(net({}, [{ name: 'dcos', subnet: '11.8.0.0/16', prefix: 24 }]));
  assert.match(
    p!,
    /^dcos_l4lb_min_named_ip\/dcos_l4lb_max_named_ip: 11\.0\.0\.0–11\.255\.255\.255 overlaps overlay "dcos" \(11\.8\.0\.0\/16\)/,
  );
  const [v] = problems({
    ...net(),
    dcos_l4lb_min_named_ip: '44.128.1.0',
    dcos_l4lb_max_named_ip: '44.128.255.255',
  });
  assert.match(
    v!,
    /named_ip: 44\.128\.1\.0–44\.128\.255\.255 overlaps dcos_overlay_network\.vtep_subnet \(44\.128\.0\.0\/20\)/,
  );
  const [six] = problems(net({}, [{ name: 'v6', subnet6: 'fd01:c::/64', prefix6: 80 }]));
  assert.match(six!, /^dcos_l4lb_min_named_ip6\/dcos_l4lb_max_named_ip6: .* overlaps overlay "v6"/);
  // Next to each other is fine.
  parseConfig({ ...net(), dcos_l4lb_min_named_ip: '44.128.16.0', dcos_l4lb_max_named_ip: '44.128.31.255' });
});
