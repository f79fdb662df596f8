// Every kernel command builder, handed hostile strings where its typed fields are (as a value
// smuggled past the parsers through a cast would arrive), refuses before anything is rendered or
// run. The valid command next to each proves the refusal is about the field, not the command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bridgeBatch,
  ipBatch,
  cniAdd,
  conntrackDeleteArgs,
  contribution,
  DockerClient,
  ensureSysctl,
  goneElement,
  KernelInputError,
  nftListTable,
  NodePlane,
  readFdb,
  readLink,
  readRoutes,
  renderBridgeCommand,
  renderIpCommand,
  renderMasqueradeTable,
  type BridgeCommand,
  type ConntrackFlow,
  type Departed,
  type IpCommand,
  type L4lbVip,
  type NetworkCreate,
} from '../../src/kernel/index.js';
import { run } from '../../src/kernel/raw.js';
import { cniConfigPath } from '../../src/overlay/index.js';
import { HOSTILE } from '../helpers/hostile.js';

/** Hostile strings, and the same glued to a valid value (`10.0.0.1\nflush ruleset`); dots alone
 *  are left out of the glued ones (`10.0.0.1..` is a fine interface or overlay name). */
const PAYLOADS = [
  ...HOSTILE,
  ...HOSTILE.filter((h) => !/^\.*$/.test(h)).flatMap((h) => [
    `10.0.0.1${h}`,
    `70:b3:d5:80:00:02${h}`,
    `vtep1024${h}`,
  ]),
  '10.0.0.1 dev eth0',
  '9.0.0.0/8 via 10.0.0.9',
  '11.0.0.1 . tcp . 80 : goto g4-1 }\nflush ruleset\nadd element inet dcnet_l4lb vips4 { 11.0.0.2 . tcp . 80',
  'vtep1024\nlink add evil type bridge',
  '70:b3:d5:80:00:02 dev vtep1024 nud permanent\nlink add evil type bridge',
];
const NUMBERS: unknown[] = [-1, 0.5, NaN, Infinity, 2 ** 40, '1', '1\nflush ruleset', null];

/** Sets `path` of a copy of `base` to `value`, as a cast would let through. */
function poisoned<T>(base: T, path: readonly (string | number)[], value: unknown): T {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  at[path.at(-1)!] = value;
  return copy as T;
}

function refusesEveryField<T>(
  name: string,
  valid: T,
  render: (c: T) => unknown,
  fields: readonly { path: readonly (string | number)[]; numeric?: boolean }[],
): void {
  assert.doesNotThrow(() => render(valid), `${name}: the valid command renders`);
  for (const { path, numeric } of fields) {
    for (const bad of numeric ? NUMBERS : PAYLOADS) {
      assert.throws(
        () => render(poisoned(valid, path, bad)),
        (err: unknown) => err instanceof KernelInputError,
        `${name}.${path.join('.')} = ${JSON.stringify(bad)}`,
      );
    }
  }
}

const ipCommands: [IpCommand, { path: (string | number)[]; numeric?: boolean }[]][] = [
  [
    { op: 'link-add-vxlan', name: 'vtep1024', vni: 1024, port: 64000, local: '10.0.0.1' } as IpCommand,
    [
      { path: ['name'] },
      { path: ['local'] },
      { path: ['vni'], numeric: true },
      { path: ['port'], numeric: true },
    ],
  ],
  [{ op: 'link-del', name: 'vtep1024' } as IpCommand, [{ path: ['name'] }]],
  [
    { op: 'link-set', name: 'vtep1024', address: '70:b3:d5:80:00:02', mtu: 1420, up: true } as IpCommand,
    [{ path: ['name'] }, { path: ['address'] }, { path: ['mtu'], numeric: true }, { path: ['up'] }],
  ],
  ...(['addr-add', 'addr-replace', 'addr-del'] as const).map((op): [IpCommand, { path: string[] }[]] => [
    { op, dev: 'vtep1024', addr: '44.128.0.3/20', nodad: true } as IpCommand,
    [{ path: ['dev'] }, { path: ['addr'] }, { path: ['nodad'] }],
  ]),
  [
    { op: 'neigh-replace', dst: '44.128.0.2', lladdr: '70:b3:d5:80:00:02', dev: 'vtep1024' } as IpCommand,
    [{ path: ['dst'] }, { path: ['lladdr'] }, { path: ['dev'] }],
  ],
  [
    { op: 'neigh-del', dst: '44.128.0.2', dev: 'vtep1024' } as IpCommand,
    [{ path: ['dst'] }, { path: ['dev'] }],
  ],
  [
    {
      op: 'route-replace',
      dst: '9.0.1.0/24',
      via: '44.128.0.2',
      dev: 'vtep1024',
      src: '10.0.0.1',
      table: 42,
      proto: 97,
    } as IpCommand,
    [
      { path: ['dst'] },
      { path: ['via'] },
      { path: ['dev'] },
      { path: ['src'] },
      { path: ['table'], numeric: true },
      { path: ['proto'], numeric: true },
    ],
  ],
  [
    { op: 'route-del', dst: '9.0.1.0/24', table: 42, proto: 97 } as IpCommand,
    [{ path: ['dst'] }, { path: ['table'], numeric: true }, { path: ['proto'], numeric: true }],
  ],
  ...(['rule-add', 'rule-del'] as const).map((op): [IpCommand, { path: string[]; numeric?: boolean }[]] => [
    { op, from: '9.0.0.0/8', table: 42 } as IpCommand,
    [{ path: ['from'] }, { path: ['table'], numeric: true }],
  ]),
];

test('ip: every command refuses hostile values in every typed field', () => {
  for (const [cmd, fields] of ipCommands) refusesEveryField(`ip ${cmd.op}`, cmd, renderIpCommand, fields);
  assert.throws(() => renderIpCommand({ op: 'flush ruleset' } as unknown as IpCommand), KernelInputError);
  assert.throws(() => renderIpCommand({ op: 'link-set', name: 'vtep1024' } as IpCommand), KernelInputError);
});

test('bridge: FDB commands refuse hostile values in every typed field', () => {
  for (const op of ['fdb-replace', 'fdb-del'] as const) {
    const cmd = { op, mac: '70:b3:d5:80:00:02', dev: 'vtep1024', dst: '10.0.0.2' } as BridgeCommand;
    refusesEveryField(`bridge ${op}`, cmd, renderBridgeCommand, [
      { path: ['mac'] },
      { path: ['dev'] },
      { path: ['dst'] },
    ]);
  }
  // A multicast or zero MAC is not a unicast FDB entry dcnet makes.
  for (const mac of ['00:00:00:00:00:00', '01:00:5e:00:00:01', 'FF:FF:FF:FF:FF:FF'])
    assert.throws(
      () =>
        renderBridgeCommand({ op: 'fdb-replace', mac, dev: 'vtep1024', dst: '10.0.0.2' } as BridgeCommand),
      KernelInputError,
    );
});

test('nft masquerade: hostile subnets are refused', () => {
  const valid = { overlays4: ['9.0.0.0/8'], overlays6: ['fd01:b::/64'] } as unknown as Parameters<
    typeof renderMasqueradeTable
  >[0];
  refusesEveryField('masquerade', valid, renderMasqueradeTable, [
    { path: ['overlays4', 0] },
    { path: ['overlays6', 0] },
  ]);
  assert.throws(
    () => renderMasqueradeTable({ overlays4: ['fd01:b::/64'], overlays6: [] } as never),
    KernelInputError,
    'a family mismatch is refused too',
  );
});

const vip = {
  protocol: 'tcp',
  ip: '11.0.0.37',
  port: 80,
  family: 4,
  backends: [
    { ip: '9.0.1.2', port: 80, weight: 2, agent: '10.0.0.1', local: { ip: '172.31.1.2', port: 8080 } },
  ],
} as unknown as L4lbVip;

test('nft L4LB: every VIP and backend field is re-checked before it becomes element text', () => {
  const render = (v: L4lbVip) => contribution(v, '10.0.0.1' as never);
  refusesEveryField('l4lb vip', vip, render, [
    { path: ['protocol'] },
    { path: ['ip'] },
    { path: ['port'], numeric: true },
    { path: ['family'], numeric: true },
    { path: ['backends', 0, 'ip'] },
    { path: ['backends', 0, 'port'], numeric: true },
    { path: ['backends', 0, 'weight'], numeric: true },
    { path: ['backends', 0, 'agent'] },
    { path: ['backends', 0, 'local', 'ip'] },
    { path: ['backends', 0, 'local', 'port'], numeric: true },
  ]);
  // Mixed families would make the whole table fail to load: refused as a field.
  assert.throws(() => render(poisoned(vip, ['backends', 0, 'ip'], 'fd01:b::2')), KernelInputError);
  assert.throws(() => render(poisoned(vip, ['family'], 6)), KernelInputError);
  // Through the plane (what the agent calls): the same refusal, and the plane keeps its state.
  const plane = new NodePlane('10.0.0.1' as never);
  plane.update({ vips: [vip] });
  assert.throws(
    () => plane.update({ vips: [poisoned(vip, ['ip'], '11.0.0.1\nflush ruleset')] }),
    KernelInputError,
  );
  const gone = {
    family: 4,
    protocol: 'tcp',
    ip: '11.0.0.37',
    port: 80,
    backendIp: '9.0.1.2',
    backendPort: 80,
  } as unknown as Departed;
  refusesEveryField('l4lb gone', gone, goneElement, [
    { path: ['protocol'] },
    { path: ['ip'] },
    { path: ['backendIp'] },
    { path: ['backendPort'], numeric: true },
  ]);
});

test('conntrack: the flow tuple is typed', () => {
  const flow = {
    protocol: 'tcp',
    origDst: '11.0.0.37',
    origDstPort: 80,
    replySrc: '9.0.1.2',
    replySrcPort: 80,
  } as unknown as ConntrackFlow;
  refusesEveryField('conntrack', flow, conntrackDeleteArgs, [
    { path: ['protocol'] },
    { path: ['origDst'] },
    { path: ['origDstPort'], numeric: true },
    { path: ['replySrc'] },
    { path: ['replySrcPort'], numeric: true },
  ]);
});

test('programs that run directly refuse hostile arguments before spawning anything', async () => {
  for (const bad of PAYLOADS) {
    await assert.rejects(readLink(bad as never), KernelInputError, `readLink ${JSON.stringify(bad)}`);
    await assert.rejects(readFdb(bad as never), KernelInputError);
    await assert.rejects(
      ensureSysctl(bad as never, '1'),
      KernelInputError,
      `sysctl key ${JSON.stringify(bad)}`,
    );
    await assert.rejects(ensureSysctl('net.ipv4.ip_forward', bad as never), KernelInputError);
    await assert.rejects(nftListTable(bad as never), KernelInputError);
    await assert.rejects(run('true', [], { netns: bad }), KernelInputError, `netns ${JSON.stringify(bad)}`);
    // A batch is rendered whole before the tool starts: one hostile command and nothing runs.
    const good: IpCommand = { op: 'link-del', name: 'vtep1024' } as IpCommand;
    await assert.rejects(
      ipBatch([good, { op: 'link-del', name: bad } as IpCommand], { netns: 'x' }),
      KernelInputError,
    );
    await assert.rejects(
      bridgeBatch([{ op: 'fdb-del', mac: bad, dev: 'vtep1024', dst: '10.0.0.2' } as BridgeCommand], {
        netns: 'x',
      }),
      KernelInputError,
    );
  }
  for (const bad of NUMBERS) await assert.rejects(readRoutes(bad as number), KernelInputError);
});

test('Docker: network name, bridge, subnets and MTU are checked before the request is made', async () => {
  // No daemon at this socket: a request that got through would fail with ENOENT instead.
  const docker = new DockerClient('/nonexistent/docker.sock', 100);
  const spec = {
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
  } as unknown as NetworkCreate;
  await assert.rejects(docker.createNetwork(spec), (e: unknown) => !(e instanceof KernelInputError));
  for (const bad of PAYLOADS) {
    for (const path of [
      ['Name'],
      ['IPAM', 'Config', 0, 'Subnet'],
      ['Options', 'com.docker.network.bridge.name'],
    ])
      await assert.rejects(docker.createNetwork(poisoned(spec, path, bad)), KernelInputError, path.join('.'));
    await assert.rejects(docker.inspectNetwork(bad as never), KernelInputError);
    await assert.rejects(docker.removeNetwork(bad as never), KernelInputError);
  }
  await assert.rejects(
    docker.createNetwork(poisoned(spec, ['Options', 'com.docker.network.driver.mtu'], '1420\n')),
    KernelInputError,
  );
});

test('CNI: a plugin is a file in the plugin directory; container id and interface are checked', async () => {
  const inv = { containerId: 'c1', netnsPath: '/run/netns/none', ifname: 'eth0', pluginDir: '/nonexistent' };
  for (const type of ['../../bin/sh', '/bin/sh', 'bridge;id', 'bridge\nx', '', '..'])
    await assert.rejects(
      cniAdd({ cniVersion: '1.0.0', name: 'dcos', plugins: [{ type }] }, inv),
      KernelInputError,
      `type ${JSON.stringify(type)}`,
    );
  for (const bad of PAYLOADS) {
    const list = { cniVersion: '1.0.0', name: 'dcos', plugins: [{ type: 'bridge' }] };
    await assert.rejects(cniAdd(list, { ...inv, ifname: bad }), KernelInputError);
    await assert.rejects(cniAdd(list, { ...inv, containerId: bad }), KernelInputError);
  }
});

test('CNI config files: an overlay name never becomes a path outside the CNI directory', () => {
  assert.equal(cniConfigPath('/etc/cni/net.d', 'dcos' as never, 'conflist'), '/etc/cni/net.d/dcos.conflist');
  for (const bad of [...PAYLOADS, '../../etc/cron.d/x', '../x', '/etc/passwd', 'a/b'])
    assert.throws(() => cniConfigPath('/etc/cni/net.d', bad as never, 'conflist'), `${JSON.stringify(bad)}`);
});
