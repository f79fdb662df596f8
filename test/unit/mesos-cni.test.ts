// What Mesos' network/cni isolator reads (spec.proto through stout's JSON→protobuf), the Mesos
// form dcnet writes by default, and the port-mapper's config checks and DNAT rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DCOS_CNI_DIR,
  defaultMesosCniDir,
  parseAgentInfo,
  parseNetworkConfig,
  parseNetworkInfo,
  planPortMapper,
  PluginError,
  renderCniConflist,
  renderDcosPortMapperConf,
  renderMesosCniConf,
  type AgentOverlayInfo,
} from '../../src/overlay/index.js';
import { cniExec, KernelInputError, renderPortMapperAdd } from '../../src/kernel/index.js';
import type { IfName, IpAddr } from '../../src/net/index.js';
import { fixture } from '../helpers/fixtures.js';

const agent = parseAgentInfo(JSON.parse(fixture('overlay-agent-172.17.0.4.json'))).info!;
const dcos = agent.overlays![0]!;
const dcos6 = agent.overlays![1]!;
/** An overlay with both families on its Mesos bridge (dcos with IPv6 enabled). */
const dual: AgentOverlayInfo = {
  ...dcos,
  mesos_bridge: { ...dcos.mesos_bridge!, ip6: dcos6.mesos_bridge!.ip6! },
};

interface MesosConf {
  cniVersion: string;
  excludeDevices: string[];
  chain: string;
  delegate: { type: string; cniVersion: string; ipam: { ranges: unknown; routes: unknown } };
}

test('NetworkConfig: name and type required, wrong kinds refused, unknown fields ignored (stout wording)', () => {
  assert.deepEqual(parseNetworkConfig('{"name":"n","type":"bridge","plugins":[],"x":1}'), {
    ok: true,
    value: { name: 'n', type: 'bridge' },
  });
  assert.deepEqual(parseNetworkConfig('{"cniVersion":"1.0.0","name":"dcos","plugins":[{"type":"bridge"}]}'), {
    ok: false,
    error: 'Protobuf parse failed: Missing required fields: type',
  });
  assert.deepEqual(parseNetworkConfig('{}'), {
    ok: false,
    error: 'Protobuf parse failed: Missing required fields: name, type',
  });
  assert.deepEqual(parseNetworkConfig('{"name":"n","type":"bridge","ipam":{}}'), {
    ok: false,
    error: 'Protobuf parse failed: Missing required fields: ipam.type',
  });
  assert.deepEqual(parseNetworkConfig('{"name":7,"type":"bridge"}'), {
    ok: false,
    error: "Protobuf parse failed: Not expecting a JSON number for field 'name'",
  });
  const bad = parseNetworkConfig('{"name":');
  assert.equal(bad.ok, false);
  assert.match((bad as { error: string }).error, /^JSON parse failed: /);
});

test('NetworkInfo: the 0.2.0 result gives ip4/ip6; a 0.3.0+ result (ips) carries no address for Mesos', () => {
  const v020 = parseNetworkInfo(
    '{"cniVersion":"0.2.0","ip4":{"ip":"9.0.1.2/25","gateway":"9.0.1.1"},"ip6":{"ip":"fd01:b::2/80"},"dns":{}}',
  );
  assert.ok(v020.ok);
  assert.equal(v020.value.ip4!.ip, '9.0.1.2/25');
  assert.equal(v020.value.ip6!.ip, 'fd01:b::2/80');
  const v100 = parseNetworkInfo('{"cniVersion":"1.0.0","ips":[{"address":"9.0.1.2/25"}],"interfaces":[]}');
  assert.deepEqual(v100, { ok: true, value: {} });
  assert.deepEqual(parseNetworkInfo('{"ip4":{"gateway":"9.0.1.1"}}'), {
    ok: false,
    error: 'Protobuf parse failed: Missing required fields: ip4.ip',
  });
});

test('the default Mesos form: one loadable network per file, port-mapper delegating to bridge, both families', () => {
  const text = renderMesosCniConf(dual, { mtu: 1420, dataDir: '/var/run/dcos/cni/networks' })!;
  const parsed = parseNetworkConfig(text);
  assert.deepEqual(parsed, { ok: true, value: { name: 'dcos', type: 'mesos-cni-port-mapper' } });
  const conf = JSON.parse(text) as MesosConf;
  assert.equal(conf.cniVersion, '0.2.0');
  assert.deepEqual(conf.excludeDevices, ['m-dcos']);
  assert.equal(conf.chain, 'M-DCOS');
  assert.equal(conf.delegate.type, 'bridge');
  assert.equal(conf.delegate.cniVersion, '0.2.0', 'the delegate answers in the shape Mesos reads');
  assert.deepEqual(conf.delegate.ipam.ranges, [
    [{ subnet: dcos.mesos_bridge!.ip }],
    [{ subnet: dcos6.mesos_bridge!.ip6 }],
  ]);
  assert.deepEqual(conf.delegate.ipam.routes, [{ dst: '0.0.0.0/0' }, { dst: '::/0' }]);
  // dcos6 alone: an IPv6-only network, which DC/OS' own form cannot express.
  const six = JSON.parse(renderMesosCniConf(dcos6, { mtu: 1420 })!) as MesosConf;
  assert.deepEqual(six.delegate.ipam.ranges, [[{ subnet: dcos6.mesos_bridge!.ip6 }]]);
  assert.equal(renderDcosPortMapperConf(dcos6, { mtu: 1420 }), undefined);
  // The conflist (the old default) is what Mesos cannot load.
  assert.equal(parseNetworkConfig(JSON.stringify(renderCniConflist(dcos, { mtu: 1420 }))).ok, false);
});

test('the CNI directory defaults to DC/OS’ on a DC/OS-style install', () => {
  assert.equal(
    defaultMesosCniDir((p) => p === '/opt/mesosphere'),
    DCOS_CNI_DIR,
  );
  assert.equal(
    defaultMesosCniDir(() => false),
    '/etc/cni/net.d',
  );
});

const env = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c1',
  CNI_NETNS: '/run/netns/x',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/usr/lib/cni',
};
const conf = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    name: 'dcos',
    type: 'mesos-cni-port-mapper',
    chain: 'M-DCOS',
    excludeDevices: ['m-dcos'],
    delegate: { type: 'bridge' },
    ...extra,
  });
const refusal = (e: NodeJS.ProcessEnv, c: string): string => {
  try {
    planPortMapper(e, c);
  } catch (err) {
    assert.ok(err instanceof PluginError);
    assert.equal(err.code, 101);
    return err.message;
  }
  assert.fail('accepted');
};

test("port-mapper: Mesos' required environment and fields, with its wording", () => {
  assert.equal(
    refusal({ ...env, CNI_COMMAND: undefined }, conf()),
    "Unable to find environment variable 'CNI_COMMAND'",
  );
  assert.equal(
    refusal({ ...env, CNI_NETNS: undefined }, conf()),
    "Unable to find environment variable 'CNI_NETNS' for non-'DEL' command",
  );
  assert.equal(
    refusal(env, conf({ chain: undefined })),
    "Failed to get the required field 'chain': Not found",
  );
  assert.equal(
    refusal(env, conf({ excludeDevices: [3] })),
    "Failed to parse 'excludeDevices' list. The excluded device needs to be a string",
  );
  assert.equal(
    refusal(env, conf({ delegate: { type: 'no-such-plugin' } })),
    "Could not find the delegate plugin 'no-such-plugin' in '/usr/lib/cni'",
  );
  assert.equal(
    refusal(env, conf({ delegate: undefined })),
    "Failed to get the required field 'delegate'Not found",
  );
});

test('port-mapper: the delegate gets name and args; port mappings come from network_info', () => {
  const args = {
    'org.apache.mesos': {
      network_info: {
        name: 'dcos',
        port_mappings: [{ host_port: 8080, container_port: 80, protocol: 'UDP' }],
      },
    },
  };
  const plan = planPortMapper({ ...env, CNI_ARGS: 'K=V' }, conf({ args }));
  assert.deepEqual(plan.delegateConfig, { type: 'bridge', name: 'dcos', args });
  assert.deepEqual(plan.mappings, [{ hostPort: 8080, containerPort: 80, protocol: 'udp' }]);
  assert.equal(plan.cniArgs, 'K=V');
  // Without args (not called by Mesos): no mappings, still a valid delegate call.
  assert.deepEqual(planPortMapper(env, conf()).mappings, []);
  assert.match(
    refusal(
      env,
      conf({ args: { 'org.apache.mesos': { network_info: { port_mappings: [{ host_port: 0 }] } } } }),
    ),
    /port_mappings\[0\]\.host_port is not a port/,
  );
});

test('port-mapper DNAT rules: one per mapping and family, every excluded device, tagged by container', () => {
  const script = renderPortMapperAdd(
    {
      chain: 'M-DCOS',
      containerId: 'web.1',
      excludeDevices: ['m-dcos' as IfName, 'd-dcos' as IfName],
      addresses: ['9.0.1.5' as IpAddr, 'fd01:b::5' as IpAddr],
      mappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    },
    [17],
  );
  assert.match(script, /delete rule inet dcnet_port_mapper M-DCOS handle 17/);
  assert.match(
    script,
    /meta nfproto ipv4 iifname != \{ "m-dcos", "d-dcos" \} tcp dport 8080 dnat ip to 9\.0\.1\.5:80 comment "container_id: web\.1"/,
  );
  assert.match(script, /meta nfproto ipv6 .* dnat ip6 to \[fd01:b::5\]:80/);
  assert.match(script, /fib daddr type local jump M-DCOS/);
  assert.throws(
    () =>
      renderPortMapperAdd(
        { chain: 'X; flush ruleset', containerId: 'c', excludeDevices: [], addresses: [], mappings: [] },
        [],
      ),
    KernelInputError,
  );
  assert.throws(
    () =>
      renderPortMapperAdd(
        {
          chain: 'C',
          containerId: 'c',
          excludeDevices: ['x" accept' as IfName],
          addresses: ['9.0.1.5' as IpAddr],
          mappings: [],
        },
        [],
      ),
    KernelInputError,
  );
});

test('cniExec: a plugin is a file in the plugins dir, and every CNI_* value is checked before anything runs', async () => {
  const base = {
    pluginDir: '/usr/lib/cni',
    type: 'bridge',
    command: 'ADD',
    containerId: 'c1',
    ifname: 'eth0',
  } as const;
  for (const bad of [
    { type: '../../bin/sh' },
    { containerId: 'x y' },
    { ifname: 'eth0; reboot' },
    { netnsPath: '/run/netns/../../etc' },
    { cniArgs: 'A=1\nB=2' },
    { pluginDir: 'relative' },
  ])
    await assert.rejects(cniExec({ ...base, ...bad } as never, '{}'), KernelInputError);
});
