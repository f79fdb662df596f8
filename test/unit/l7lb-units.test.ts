// Building blocks of the layer-7 controller: Python str.format, server ids (upstream vectors of
// TestServerIdGeneration), null stripping (TestFunctions), task addresses per networking mode and
// the service-port assigner (tests/test_utils.py, specs/marathon-lb.md §2.6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  pyFormat,
  serverId,
  stripNulls,
  taskIpAndPorts,
  ServicePortAssigner,
  type MarathonApp,
  type MarathonTask,
} from '../../src/l7lb/index.js';

test('python format: placeholders, escaped braces, errors', () => {
  assert.equal(pyFormat('a {x} {{ b }} {y}', { x: 1, y: 'z' }), 'a 1 { b } z');
  assert.equal(pyFormat('{n} {t} {f}', { n: null, t: true, f: false }), 'None True False');
  assert.throws(() => pyFormat('{nope}', {}), /unknown placeholder \{nope\}/);
  assert.throws(() => pyFormat('a { b', {}), /single '\{'/);
  assert.throws(() => pyFormat('a } b', {}), /single '\}'/);
});

test('server ids: upstream vectors, non-zero, unique within a backend, stable', () => {
  const vectors: [string, number][] = [
    ['0', 17068],
    ['1', 25733],
    ['a', 25929],
    ['10_0_6_25_23336', 14676],
    ['agent1_1_1_1_1_1024', 28363],
    ['agent1_192_0_2_1_1234', 15582],
  ];
  for (const [name, id] of vectors) assert.equal(serverId(name, new Set()), id, name);
  const taken = new Set<number>();
  const a = serverId('a', taken);
  const b = serverId('a', taken);
  assert.notEqual(a, b);
  assert.ok(b > 0 && b < 32767);
  assert.equal(serverId('a', new Set()), a);
  assert.throws(() => serverId('', new Set()), /empty/);
  assert.throws(() => serverId(undefined, new Set()), /empty/);
  for (let i = 0; i < 2000; i++) assert.notEqual(serverId(String(i), new Set()), 0);
});

test('null stripping keeps list elements', () => {
  assert.deepEqual(stripNulls({ a: null, b: { c: null, d: 1 }, e: [null, { f: null }] }), {
    b: { d: 1 },
    e: [null, {}],
  });
});

const task = (t: Partial<MarathonTask>): MarathonTask => ({ id: 't', host: 'agent1', ...t });

test('task ip and ports per networking mode', () => {
  const hosts = new Map([['agent1', '1.2.3.4']]);
  const legacy: MarathonApp = {
    id: '/a',
    ipAddress: { discovery: { ports: [{ number: 123 }, { number: 234 }] } },
  };
  assert.deepEqual(taskIpAndPorts(legacy, task({ ipAddresses: [{ ipAddress: '1.2.3.4' }] })), {
    ip: '1.2.3.4',
    ports: [123, 234],
  });
  assert.equal(taskIpAndPorts(legacy, task({})), undefined);
  const user: MarathonApp = {
    id: '/a',
    container: { docker: { network: 'USER', portMappings: [{ containerPort: 80 }, { containerPort: 81 }] } },
  };
  assert.deepEqual(taskIpAndPorts(user, task({ ipAddresses: [{ ipAddress: '1.2.3.4' }] })), {
    ip: '1.2.3.4',
    ports: [80, 81],
  });
  const m15: MarathonApp = {
    id: '/a',
    networks: [{ mode: 'container', name: 'dcos' }],
    container: { portMappings: [{ containerPort: 80 }, { containerPort: 81 }] },
  };
  assert.deepEqual(taskIpAndPorts(m15, task({ ipAddresses: [{ ipAddress: '1.2.3.4' }] })), {
    ip: '1.2.3.4',
    ports: [80, 81],
  });
  assert.equal(taskIpAndPorts(m15, task({})), undefined);
  const empty: MarathonApp = {
    id: '/a',
    networks: [{ mode: 'container', name: 'dcos' }],
    container: { portMappings: [{}] },
  };
  assert.equal(taskIpAndPorts(empty, task({})), undefined);
  const host: MarathonApp = { id: '/a' };
  assert.deepEqual(taskIpAndPorts(host, task({ ports: [234, 345, 567] }), hosts), {
    ip: '1.2.3.4',
    ports: [234, 345, 567],
  });
  assert.equal(taskIpAndPorts(host, task({ host: 'nowhere', ports: [1] }), hosts), undefined);
});

test('service port assigner', () => {
  const ippc = (id: string, n: number): MarathonApp => ({
    id,
    networks: [{ mode: 'container', name: 'dcos' }],
    container: { portMappings: Array.from({ length: n }, (_, i) => ({ containerPort: 80 + i })) },
    tasks: [{ id: `${id}.1`, host: 'h', ipAddresses: [{ ipAddress: '9.0.0.1' }] }],
  });
  assert.deepEqual(new ServicePortAssigner([0, 0]).servicePorts(ippc('/a', 1)), []);
  assert.deepEqual(
    new ServicePortAssigner([10000, 10020]).servicePorts({
      id: '/p',
      portDefinitions: [{ port: 100 }, { port: 101 }, { port: 102 }],
    }),
    [100, 101, 102],
  );
  const a = new ServicePortAssigner([10000, 10020]);
  const ports = [
    ...a.servicePorts(ippc('/x', 10)),
    ...a.servicePorts(ippc('/y', 10)),
    ...a.servicePorts(ippc('/z', 4)),
  ];
  assert.equal(ports.filter((p) => p === undefined).length, 3);
  assert.deepEqual(
    ports.filter((p) => p !== undefined).sort((x, y) => x! - y!),
    Array.from({ length: 21 }, (_, i) => 10000 + i),
  );
  const b1 = new ServicePortAssigner([10000, 10020]);
  const b2 = new ServicePortAssigner([10000, 10020]);
  assert.deepEqual(b1.servicePorts(ippc('/x', 1)), b2.servicePorts(ippc('/x', 1)));
  const withSp: MarathonApp = {
    ...ippc('/s', 2),
    container: {
      portMappings: [
        { containerPort: 80, servicePort: 10000 },
        { containerPort: 81, servicePort: 10001 },
      ],
    },
  };
  assert.deepEqual(new ServicePortAssigner([10000, 10020]).servicePorts(withSp), [10000, 10001]);
  assert.deepEqual(
    new ServicePortAssigner([10000, 10020]).servicePorts({
      id: '/d',
      container: { docker: { network: 'BRIDGE' } },
      portDefinitions: [{ port: 10000 }, { port: 10001 }],
    }),
    [10000, 10001],
  );
  assert.deepEqual(
    new ServicePortAssigner([10000, 10020]).servicePorts({ id: '/n', networks: [{ mode: 'container' }] }),
    [],
  );
});

test('app validation: the fast path and zod agree on what is valid', async () => {
  const { parseApps } = await import('../../src/l7lb/index.js');
  const good = {
    id: '/a',
    versionInfo: { lastScalingAt: '2020-01-01' },
    ipAddress: { discovery: { ports: [{ number: 80 }] } },
    container: {
      docker: { network: 'USER', portMappings: [{ containerPort: 80, labels: { VIP_0: '/a:80' } }] },
    },
    tasks: [
      {
        id: 't',
        host: 'h',
        ports: [1],
        ipAddresses: [{ ipAddress: '192.0.2.1' }],
        healthCheckResults: [{ alive: true }],
      },
    ],
  };
  assert.deepEqual(parseApps({ apps: [good] }).errors, []);
  const bad: [unknown, RegExp][] = [
    [{ ...good, labels: { X: 1 } }, /field "labels\.X"/],
    [
      { ...good, container: { docker: { portMappings: [{ containerPort: 'x' }] } } },
      /container\.docker\.portMappings\.0\.containerPort/,
    ],
    [
      { ...good, tasks: [{ id: 't', healthCheckResults: [{ alive: 'yes' }] }] },
      /tasks\.0\.healthCheckResults\.0\.alive/,
    ],
    [{ ...good, healthChecks: [{ portIndex: 0.5 }] }, /healthChecks\.0\.portIndex/],
    [{ ...good, ports: [70000] }, /field "ports\.0"/],
  ];
  for (const [app, re] of bad) {
    const r = parseApps({ apps: [app] });
    assert.equal(r.apps.length, 0, JSON.stringify(app));
    assert.match(r.errors[0]!, re);
  }
  assert.throws(() => parseApps({ nope: [] }), /"apps"/);
});
