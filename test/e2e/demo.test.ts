// `dcnet demo` end to end: the --check run CI relies on, then the emulator's Marathon behaviour on
// a live demo cluster: validation, partial updates, scaling, kills, restarts, health, events.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BUSYBOX_IMAGE, Demo, sweepStale } from '../../src/sim/index.js';
import { run } from '../../src/kernel/raw.js';
import { DCNET, runDcnet } from '../helpers/process.js';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';

let demo: Demo;
let workdir: string;

const master = () => demo.cluster.master.host;
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const args = ['-s', '-m', '10', '-X', method, '-w', '\n%{http_code}', `${demo.marathonUrl}${path}`];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '-d', JSON.stringify(body));
  const { stdout } = await demo.cluster.tb.exec(master().netns, 'curl', args);
  const nl = stdout.lastIndexOf('\n');
  const text = stdout.slice(0, nl);
  return { status: Number(stdout.slice(nl + 1)), json: text ? (JSON.parse(text) as unknown) : undefined };
}
type AppJson = {
  instances: number;
  tasksRunning: number;
  tasksHealthy: number;
  tasks: { id: string; state: string }[];
  version: string;
};
const getApp = async (id: string): Promise<AppJson> =>
  ((await api('GET', `/v2/apps${id}`)).json as { app: AppJson }).app;

test('dcnet demo --check: ready, every capability verified, torn down', { skip: NEEDS_ROOT }, async () => {
  const r = await runDcnet(['demo', '--check']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^11 passed, 0 failed$/m);
  const ready = Number(/ready in ([\d.]+) s/.exec(r.stdout)?.[1]);
  assert.ok(ready > 0 && ready < 20, `ready in ${ready} s`);
  assert.deepEqual(await sweepStale(), [], 'nothing left behind');
});

before(async () => {
  if (NEEDS_ROOT) return;
  workdir = await mkdtemp(join(tmpdir(), 'dcnet-test-demo-'));
  demo = await Demo.up({ workdir, detach: false, say: () => {}, dockerAgents: ['a1'] });
});

after(async () => {
  await demo?.destroy();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

test(
  'invalid apps get 422 naming the field and deploy nothing; duplicates 409',
  { skip: NEEDS_ROOT },
  async () => {
    const before = ((await api('GET', '/v2/apps')).json as { apps: unknown[] }).apps.length;
    const bad = await api('POST', '/v2/apps', {
      id: '/bad',
      networks: [{ mode: 'container', name: 'nope' }],
    });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.json, {
      message: 'Object is not valid',
      details: [{ path: '/networks/0/name', errors: ['unknown network "nope" (known: dcos, dcos6)'] }],
    });
    const dup = await api('POST', '/v2/apps', { id: '/web' });
    assert.equal(dup.status, 409);
    assert.equal(((await api('GET', '/v2/apps')).json as { apps: unknown[] }).apps.length, before);
    assert.equal((await api('GET', '/v2/apps/bad')).status, 404);
  },
);

test(
  'scaling by partial PUT keeps the running tasks; kill with scale lowers instances',
  { skip: NEEDS_ROOT },
  async () => {
    const events = spawn('nsenter', [
      `--net=/run/netns/${master().netns}`,
      'curl',
      '-sN',
      `${demo.marathonUrl}/v2/events?event_type=status_update_event`,
    ]);
    let sse = '';
    events.stdout.on('data', (c: Buffer) => (sse += c.toString()));
    try {
      const before = await getApp('/web');
      const r = await api('PUT', '/v2/apps/web', { instances: 5 });
      assert.equal(r.status, 200);
      const after = await eventually(async () => {
        const a = await getApp('/web');
        assert.equal(a.tasksRunning, 5);
        return a;
      }, 20_000);
      assert.equal(after.version, before.version, 'a scale is not a new version');
      for (const t of before.tasks)
        assert.ok(
          after.tasks.some((x) => x.id === t.id),
          `${t.id} kept`,
        );
      const victim = after.tasks[0]!.id;
      const killed = await api('DELETE', `/v2/apps/web/tasks/${victim}?scale=true`);
      assert.equal(killed.status, 200);
      await eventually(async () => {
        const a = await getApp('/web');
        assert.equal(a.instances, 4);
        assert.equal(a.tasksRunning, 4);
        assert.ok(!a.tasks.some((t) => t.id === victim));
      }, 20_000);
      await eventually(
        async () =>
          assert.match(
            sse,
            new RegExp(`"taskId":"${victim.replace(/\./g, '\\.')}","taskStatus":"TASK_KILLED"`),
          ),
        5000,
      );
      assert.match(sse, /"taskStatus":"TASK_KILLING"/);
      assert.doesNotMatch(sse, /event: api_post_event/, 'event_type filter applies');
    } finally {
      events.kill();
    }
  },
);

test('a task whose process dies is replaced (restart on failure)', { skip: NEEDS_ROOT }, async () => {
  const a = await getApp('/legacy');
  const victim = a.tasks[0]!.id;
  const tasks = await demo.tasks();
  const t = tasks.find((x) => x.id === victim)!;
  const { stdout } = await run('ip', ['netns', 'pids', t.netns]);
  for (const pid of stdout.split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
  await eventually(async () => {
    const now = await getApp('/legacy');
    assert.equal(now.tasksRunning, 2);
    assert.ok(!now.tasks.some((x) => x.id === victim), 'replaced by a new task');
  }, 20_000);
});

test('an unhealthy task is killed and replaced', { skip: NEEDS_ROOT }, async () => {
  const r = await api('POST', '/v2/apps', {
    id: '/sick',
    instances: 1,
    portDefinitions: [{ port: 0 }],
    healthChecks: [
      {
        protocol: 'TCP',
        port: 1,
        gracePeriodSeconds: 0,
        intervalSeconds: 0.3,
        timeoutSeconds: 1,
        maxConsecutiveFailures: 2,
        delaySeconds: 0,
      },
    ],
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const first = await eventually(async () => {
    const a = await getApp('/sick');
    assert.equal(a.tasks.length, 1);
    return a.tasks[0]!.id;
  }, 10_000);
  await eventually(async () => {
    const a = await getApp('/sick');
    assert.ok(a.tasks.length >= 1 && !a.tasks.some((t) => t.id === first), JSON.stringify(a.tasks));
  }, 20_000);
  assert.equal((await api('DELETE', '/v2/apps/sick')).status, 200);
  await eventually(async () => assert.equal((await api('GET', '/v2/apps/sick')).status, 404), 5000);
});

test('Mesos state follows Marathon: running tasks, agents, leader', { skip: NEEDS_ROOT }, async () => {
  const state = JSON.parse(await demo.cluster.httpGet(master(), `${demo.mesosUrl}/master/state`)) as {
    leader: string;
    slaves: { hostname: string }[];
    frameworks: { name: string; tasks: { id: string; state: string }[] }[];
  };
  assert.equal(state.leader, `master@${master().ip}:5050`);
  assert.equal(state.slaves.length, 4);
  const marathon = ((await api('GET', '/v2/tasks')).json as { tasks: { id: string; state: string }[] }).tasks;
  const running = (xs: { id: string; state: string }[]) =>
    xs
      .filter((t) => t.state === 'TASK_RUNNING')
      .map((t) => t.id)
      .sort();
  assert.deepEqual(running(state.frameworks[0]!.tasks), running(marathon));
});

test('dcnet demo --detach / --down: cluster.json, then nothing left', { skip: NEEDS_ROOT }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dcnet-test-detach-'));
  try {
    const up = await runDcnet(['demo', '--detach', '--workdir', dir]);
    assert.equal(up.code, 0, up.stderr);
    const cluster = JSON.parse(
      await import('node:fs/promises').then((fs) => fs.readFile(join(dir, 'cluster.json'), 'utf8')),
    ) as {
      prefix: string;
      master: { netns: string; ip: string };
      agents: { name: string; public: boolean }[];
      tasks: { id: string; app: string; netns: string; ips: string[]; ports: number[] }[];
      marathon: string;
      mesos: string;
      dcnet_master: string;
      operator_tls: { dir: string; ca: string; cert: string; key: string };
    };
    assert.equal(cluster.agents.length, 4);
    assert.equal(cluster.agents.filter((a) => a.public).length, 1);
    assert.equal(cluster.tasks.length, 7);
    const { stdout } = await run('curl', ['-s', '-m', '5', `${cluster.marathon}/v2/apps`], {
      netns: cluster.master.netns,
    });
    assert.equal((JSON.parse(stdout) as { apps: unknown[] }).apps.length, 3);
    // The operator's certificate from cluster.json calls the master's API; nothing else does.
    const t = cluster.operator_tls;
    assert.match(cluster.dcnet_master, /^https:\/\//);
    const state = await run(
      'curl',
      [
        '-sS',
        '-m',
        '5',
        '--cacert',
        t.ca,
        '--cert',
        t.cert,
        '--key',
        t.key,
        `${cluster.dcnet_master}/overlay-master/state`,
      ],
      { netns: cluster.master.netns },
    );
    assert.equal((JSON.parse(state.stdout) as { agents: unknown[] }).agents.length, 4);
    const anonymous = await run(
      'curl',
      [
        '-s',
        '-m',
        '5',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--cacert',
        t.ca,
        `${cluster.dcnet_master}/overlay-master/state`,
      ],
      { netns: cluster.master.netns },
    );
    assert.equal(anonymous.stdout, '401');
    const status = await run(
      process.execPath,
      [DCNET, 'status', '--tls-dir', t.dir, '--master', cluster.dcnet_master],
      {
        netns: cluster.master.netns,
      },
    );
    assert.match(status.stdout, /store: reachable/);
    const down = await runDcnet(['demo', '--down', '--workdir', dir]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await sweepStale(cluster.prefix), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  "the DOCKER containerizer: a task in the agent's dockerd on the overlay's Docker network",
  { skip: NEEDS_ROOT },
  async () => {
    const a1 = demo.cluster.agent('a1').host;
    const r = await api('POST', '/v2/apps', {
      id: '/dweb',
      instances: 1,
      constraints: [['hostname', 'CLUSTER', a1.ip]],
      networks: [{ mode: 'container', name: 'dcos' }],
      container: {
        type: 'DOCKER',
        docker: { image: BUSYBOX_IMAGE },
        portMappings: [{ containerPort: 8080 }],
      },
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const task = await eventually(async () => {
      const t = (
        (await api('GET', '/v2/apps/dweb/tasks')).json as {
          tasks: { id: string; state: string; ipAddresses: { ipAddress: string }[] }[];
        }
      ).tasks[0];
      assert.equal(t?.state, 'TASK_RUNNING');
      return t!;
    }, 20_000);
    const a1info = await demo.cluster.agentInfo('a1');
    const half = a1info.overlays!.find((o) => o.info.name === 'dcos')!.docker_bridge!.ip!;
    assert.equal(
      task.ipAddresses[0]!.ipAddress.split('.').slice(0, 3).join('.'),
      half.split('.').slice(0, 3).join('.'),
      'on the Docker half',
    );
    const from = demo.cluster.agent('a2').host;
    const { stdout } = await demo.cluster.tb.exec(from.netns, 'curl', [
      '-s',
      '-m',
      '3',
      `http://${task.ipAddresses[0]!.ipAddress}:8080/`,
    ]);
    assert.equal(stdout.trim(), task.id);
    assert.equal((await api('DELETE', '/v2/apps/dweb')).status, 200);
  },
);

test('UDP ports answer each datagram with the task id', { skip: NEEDS_ROOT }, async () => {
  const r = await api('POST', '/v2/apps', {
    id: '/udpsvc',
    instances: 1,
    portDefinitions: [{ port: 0, protocol: 'udp' }],
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const task = await eventually(async () => {
    const t = (
      (await api('GET', '/v2/apps/udpsvc/tasks')).json as {
        tasks: { id: string; state: string; host: string; ports: number[] }[];
      }
    ).tasks[0];
    assert.equal(t?.state, 'TASK_RUNNING');
    return t!;
  }, 20_000);
  const from = [...demo.cluster.agents.values()].find((a) => a.host.ip !== task.host)!.host;
  const { stdout } = await demo.cluster.tb.exec(from.netns, 'sh', [
    '-c',
    `echo hi | nc -u -w 1 ${task.host} ${task.ports[0]}`,
  ]);
  assert.equal(stdout.trim(), task.id);
  await api('DELETE', '/v2/apps/udpsvc');
});
