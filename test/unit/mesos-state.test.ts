// The Mesos state reader against a recorded real document (the Mesos-DNS fixture) and the
// emulator's own rendering: both must parse with the same schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseMesosState, parsePortRanges } from '../../src/cluster/index.js';
import {
  Emulator,
  mesosState,
  marathonApp,
  parseApp,
  discoveryName,
  type Task,
} from '../../src/sim/index.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

test('the recorded Mesos-DNS fixture (fake.json) parses', () => {
  const doc = JSON.parse(
    readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'mesos-dns', 'fake.json'), 'utf8'),
  ) as unknown;
  const state = parseMesosState(doc);
  assert.ok(state.slaves.length > 0);
  const tasks = state.frameworks.flatMap((f) => f.tasks);
  assert.ok(tasks.some((t) => t.discovery?.ports?.ports?.length));
  assert.ok(tasks.some((t) => t.statuses.some((s) => s.container_status?.network_infos?.length)));
});

test('port ranges as Mesos writes them (and a bare number)', () => {
  assert.deepEqual(parsePortRanges('[31000-31001, 31005-31005]'), [31000, 31001, 31005]);
  assert.deepEqual(parsePortRanges('[]'), []);
  assert.deepEqual(parsePortRanges(''), []);
  assert.deepEqual(parsePortRanges(undefined), []);
  assert.deepEqual(parsePortRanges('[31000]'), [31000]);
  assert.deepEqual(parsePortRanges('[x-1, 5-6]'), [5, 6]);
});

test("the emulator's /master/state parses with the same reader and carries what consumers need", () => {
  const emu = new Emulator({
    topology: {
      prefix: 'dcnt0000',
      workdir: '/nonexistent',
      master: { netns: 'm', ip: '10.250.0.100' },
      agents: [
        {
          name: 'a1',
          netns: 'a1',
          ip: '10.250.0.1',
          public: false,
          cniDir: '/nonexistent',
          cniPluginsDir: '/nonexistent',
        },
      ],
    },
    log: pino({ level: 'silent' }),
  });
  const web = parseApp(
    {
      id: '/group/web',
      networks: [{ mode: 'container', name: 'dcos' }],
      container: { portMappings: [{ containerPort: 80, name: 'http', labels: { VIP_0: '/web:80' } }] },
    },
    ['dcos'],
  );
  emu.apps.set(web.id, web);
  const task: Task = {
    id: 'group_web.1',
    appId: web.id,
    agent: emu.topology.agents[0]!,
    state: 'TASK_RUNNING',
    hostPorts: [undefined],
    ips: ['9.0.1.2'],
    networkNames: ['dcos'],
    version: web.version,
    stagedAt: new Date().toISOString(),
    statuses: [{ state: 'TASK_RUNNING', timestamp: 1 }],
    lastCheck: [],
  };
  emu.tasks.set(task.id, task);
  const state = parseMesosState(JSON.parse(JSON.stringify(mesosState(emu, 5050, 8080))));
  assert.equal(state.leader, 'master@10.250.0.100:5050');
  assert.equal(state.slaves[0]!.pid, 'slave(1)@10.250.0.1:5051');
  const t = state.frameworks[0]!.tasks[0]!;
  assert.equal(state.frameworks[0]!.name, 'marathon');
  assert.equal(t.name, 'web.group');
  assert.equal(discoveryName('/a/b/c'), 'c.b.a');
  assert.equal(t.slave_id, state.slaves[0]!.id);
  assert.deepEqual(t.statuses[0]!.container_status?.network_infos?.[0]?.ip_addresses, [
    { ip_address: '9.0.1.2', protocol: 'IPv4' },
  ]);
  assert.deepEqual(t.discovery?.ports?.ports?.[0], {
    number: 80,
    protocol: 'tcp',
    name: 'http',
    labels: {
      labels: [
        { key: 'VIP_0', value: '/web:80' },
        { key: 'network-scope', value: 'container' },
      ],
    },
  });
  const m = marathonApp(emu, web, true) as {
    tasks: { ipAddresses: unknown[]; ports: number[] }[];
    container: { portMappings: unknown[] };
  };
  assert.deepEqual(m.tasks[0]!.ipAddresses, [{ ipAddress: '9.0.1.2', protocol: 'IPv4' }]);
  assert.deepEqual(m.tasks[0]!.ports, []);
});
