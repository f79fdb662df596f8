// The L4 load balancer end to end on the demo cluster (real dcnet master and agents, the Mesos/
// Marathon emulator with real tasks): every example app's VIP from a container on every agent,
// hairpin, host-originated traffic, UDP and IPv6 VIPs, scaling and killed backends within a second.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Demo, type Container } from '../../src/sim/index.js';
import type { Vip } from '../../src/l4lb/index.js';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';

let demo: Demo;
let workdir: string;
const clients = new Map<string, Container>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const agents = () => [...demo.cluster.agents.keys()];
const mnetns = () => demo.cluster.master.host.netns;
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const args = ['-s', '-m', '10', '-X', method, '-w', '\n%{http_code}', `${demo.marathonUrl}${path}`];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '-d', JSON.stringify(body));
  const { stdout } = await demo.cluster.tb.exec(mnetns(), 'curl', args);
  const nl = stdout.lastIndexOf('\n');
  const text = stdout.slice(0, nl);
  return { status: Number(stdout.slice(nl + 1)), json: text ? (JSON.parse(text) as unknown) : undefined };
}
type TaskJson = {
  id: string;
  state: string;
  ipAddresses: { ipAddress: string }[];
  host: string;
  ports: number[];
};
const appTasks = async (id: string): Promise<TaskJson[]> =>
  ((await api('GET', `/v2/apps${id}/tasks`)).json as { tasks: TaskJson[] }).tasks;
const running = async (id: string): Promise<TaskJson[]> =>
  (await appTasks(id)).filter((t) => t.state === 'TASK_RUNNING');

async function vipOf(label: string, family: 4 | 6 = 4): Promise<Vip> {
  return eventually(async () => {
    const v = (await demo.vips()).vips.find((x) => x.name?.label === label && x.family === family);
    assert.ok(v, `VIP ${label} (IPv${family}) published`);
    return v;
  }, 15_000);
}

/** Resolves with the time (epoch ms) at which `target` (`ip . port`) is in (or out of) the VIP's
 *  slots in an agent's kernel, polled by a shell loop inside the agent (no process per poll). */
function whenTarget(
  agent: string,
  v: Vip,
  target: string,
  present: boolean,
  timeoutMs = 5000,
): Promise<number> {
  const map = v.family === 4 ? 'be4' : 'be6';
  const needle = `${v.ip} . ${v.protocol} . ${v.port} . [0-9]* : ${target}`.replace(/\./g, '\\.');
  const script = `end=$(($(date +%s%3N)+${timeoutMs})); while [ $(date +%s%3N) -lt $end ]; do
    if nft list map inet dcnet_l4lb ${map} | grep -q '${needle}'; then p=1; else p=0; fi
    [ $p = ${present ? 1 : 0} ] && { date +%s%3N; exit 0; }; done; exit 1`;
  return new Promise((resolve, reject) => {
    const p = spawn('nsenter', [
      `--net=/run/netns/${demo.cluster.agent(agent).host.netns}`,
      'sh',
      '-c',
      script,
    ]);
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.once('exit', (code) =>
      code === 0
        ? resolve(Number(out.trim()))
        : reject(new Error(`${agent}: ${target} still ${present ? 'absent' : 'present'}`)),
    );
  });
}
const everyAgent = async (v: Vip, target: string, present: boolean): Promise<number> =>
  Math.max(...(await Promise.all(agents().map((a) => whenTarget(a, v, target, present)))));

before(async () => {
  if (NEEDS_ROOT) return;
  workdir = await mkdtemp(join(tmpdir(), 'dcnet-test-l4lb-'));
  demo = await Demo.up({ workdir, detach: false, say: () => {} });
  for (const name of agents()) {
    const host = demo.cluster.agent(name).host;
    const lists = [await demo.cluster.conflist(name, 'dcos'), await demo.cluster.conflist(name, 'dcos6')];
    clients.set(name, await demo.cluster.tb.addContainer(host, 'l4c', lists));
  }
});

after(async () => {
  await demo?.destroy();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

test(
  'each example VIP from a container on every agent reaches every instance, no failure',
  { skip: NEEDS_ROOT },
  async () => {
    const tasks = await demo.tasks();
    for (const app of ['/web', '/legacy', '/hostsvc']) {
      const v = await vipOf(app === '/web' ? '/web' : app.slice(1));
      const want = tasks
        .filter((t) => t.app === app)
        .map((t) => t.id)
        .sort();
      for (const [name, c] of clients) {
        const seen = await demo.hitVip(c.netns, v.ip, v.port, want.length * 8);
        assert.equal(seen.get('FAIL'), undefined, `${app} from ${name}: ${JSON.stringify([...seen])}`);
        assert.deepEqual([...seen.keys()].sort(), want, `${app} from ${name}`);
      }
    }
  },
);

test(
  'hairpin: a backend reaches itself (and the others) through its own VIP',
  { skip: NEEDS_ROOT },
  async () => {
    const tasks = await demo.tasks();
    for (const app of ['/web', '/legacy']) {
      const v = await vipOf(app === '/web' ? '/web' : 'legacy');
      const mine = tasks.filter((t) => t.app === app);
      for (const t of mine) {
        const seen = await demo.hitVip(t.netns, v.ip, v.port, mine.length * 10);
        assert.equal(seen.get('FAIL'), undefined, `${t.id}: ${JSON.stringify([...seen])}`);
        assert.ok(
          seen.has(t.id),
          `${t.id} reached itself through ${v.ip}:${v.port}: ${JSON.stringify([...seen])}`,
        );
      }
    }
  },
);

test('agents serve GET /v1/vips and L4LB metrics', { skip: NEEDS_ROOT }, async () => {
  for (const name of agents()) {
    const a = demo.cluster.agent(name);
    const vips = JSON.parse(await demo.cluster.httpGet(a.host, `${a.url}/v1/vips`)) as {
      vip: string;
      protocol: string;
      backend: unknown[];
    }[];
    const web = vips.find((v) => v.vip === 'web.marathon.l4lb.thisdcos.directory:80');
    assert.equal(web?.protocol, 'tcp', name);
    assert.equal(web?.backend.length, 3, name);
    const metrics = await demo.cluster.httpGet(a.host, `${a.url}/metrics`);
    assert.match(metrics, /^dcnet_l4lb_ready 1$/m, name);
    assert.match(metrics, /^dcnet_l4lb_sync_seconds_count\{kind="full"\} [1-9]/m, name);
  }
});

test('host-originated: every agent itself reaches every instance', { skip: NEEDS_ROOT }, async () => {
  const tasks = await demo.tasks();
  const v = await vipOf('/web');
  const want = tasks
    .filter((t) => t.app === '/web')
    .map((t) => t.id)
    .sort();
  for (const name of agents()) {
    const seen = await demo.hitVip(demo.cluster.agent(name).host.netns, v.ip, v.port, 24);
    assert.equal(seen.get('FAIL'), undefined, `${name}: ${JSON.stringify([...seen])}`);
    assert.deepEqual([...seen.keys()].sort(), want, name);
  }
});

test('UDP and IPv6 VIPs', { skip: NEEDS_ROOT }, async () => {
  assert.equal(
    (
      await api('POST', '/v2/apps', {
        id: '/udpecho',
        instances: 2,
        networks: [{ mode: 'container', name: 'dcos' }],
        container: {
          type: 'MESOS',
          portMappings: [{ containerPort: 5300, protocol: 'udp', labels: { VIP_0: '/udpecho:5300' } }],
        },
      })
    ).status,
    201,
  );
  assert.equal(
    (
      await api('POST', '/v2/apps', {
        id: '/web6',
        instances: 2,
        networks: [{ mode: 'container', name: 'dcos6' }],
        container: { type: 'MESOS', portMappings: [{ containerPort: 80, labels: { VIP_0: '/web6:80' } }] },
      })
    ).status,
    201,
  );
  try {
    const udpTasks = await eventually(async () => {
      const t = await running('/udpecho');
      assert.equal(t.length, 2);
      return t.map((x) => x.id).sort();
    }, 20_000);
    const udp = await eventually(async () => {
      const v = await vipOf('/udpecho');
      assert.equal(v.backends.length, 2);
      return v;
    }, 10_000);
    assert.equal(udp.protocol, 'udp');
    const client = clients.get('a1')!;
    const seen = new Set<string>();
    await eventually(async () => {
      const { stdout } = await demo.cluster.tb.exec(client.netns, 'sh', [
        '-c',
        `for i in $(seq 8); do echo q | nc -u -w 1 ${udp.ip} 5300; done`,
      ]);
      for (const l of stdout.split('\n').filter(Boolean)) seen.add(l.trim());
      assert.deepEqual([...seen].sort(), udpTasks);
    }, 20_000);

    const web6Tasks = await eventually(async () => {
      const t = await running('/web6');
      assert.equal(t.length, 2);
      return t.map((x) => x.id).sort();
    }, 20_000);
    const v6 = await eventually(async () => {
      const v = await vipOf('/web6', 6);
      assert.equal(v.backends.length, 2);
      return v;
    }, 10_000);
    assert.match(v6.ip, /^fd01:c::/);
    for (const [name, c] of clients) {
      const got = await eventually(async () => {
        const s = await demo.hitVip(c.netns, v6.ip, 80, 12);
        assert.equal(s.get('FAIL'), undefined, `${name}: ${JSON.stringify([...s])}`);
        return s;
      }, 5000);
      assert.deepEqual([...got.keys()].sort(), web6Tasks, name);
      // And from the node itself (its route to fd01:c::/64 leaves from an address it has).
      const own = await demo.hitVip(demo.cluster.agent(name).host.netns, v6.ip, 80, 12);
      assert.equal(own.get('FAIL'), undefined, `${name} host: ${JSON.stringify([...own])}`);
      assert.deepEqual([...own.keys()].sort(), web6Tasks, `${name} host`);
    }
  } finally {
    await api('DELETE', '/v2/apps/udpecho');
    await api('DELETE', '/v2/apps/web6');
  }
});

test(
  'scaling up and down shows in the VIP on every agent within a second',
  { skip: NEEDS_ROOT },
  async (t) => {
    const v = await vipOf('/web');
    const before = new Set((await running('/web')).map((t) => t.id));
    assert.equal((await api('PUT', '/v2/apps/web', { instances: 4 })).status, 200);
    let fresh: TaskJson | undefined;
    while (!fresh) {
      fresh = (await running('/web')).find((t) => !before.has(t.id));
      if (!fresh) await sleep(20);
    }
    const seenRunning = Date.now();
    const target = `${fresh.ipAddresses[0]!.ipAddress} . 80`;
    const upMs = (await everyAgent(v, target, true)) - seenRunning;
    assert.ok(upMs < 1000, `new backend in every agent's VIP ${upMs} ms after Marathon showed it running`);
    // Down: the killed instance leaves every agent's map within a second of the kill.
    const killedAt = Date.now();
    const gone = everyAgent(v, target, false);
    assert.equal((await api('DELETE', `/v2/apps/web/tasks/${fresh.id}?scale=true`)).status, 200);
    const downMs = (await gone) - killedAt;
    assert.ok(downMs < 1000, `scaled-down backend gone from every agent ${downMs} ms after the kill`);
    t.diagnostic(
      `scale up: in every agent's VIP ${upMs} ms after running; scale down: out ${downMs} ms after the kill`,
    );
    await eventually(async () => assert.equal((await running('/web')).length, 3), 10_000);
  },
);

test(
  'a killed backend is out within a second and no request fails after that',
  { skip: NEEDS_ROOT },
  async (t) => {
    const v = await vipOf('/web');
    const tasks = await running('/web');
    assert.equal(tasks.length, 3);
    const victim = tasks[0]!;
    const ip = victim.ipAddresses[0]!.ipAddress;
    const client = clients.get('a2')!;
    // Requests back to back for 5 s, each stamped with its start time.
    const end = Date.now() + 5000;
    const loop = spawn('nsenter', [
      `--net=/run/netns/${client.netns}`,
      'sh',
      '-c',
      `while [ $(date +%s%3N) -lt ${end} ]; do s=$(date +%s%3N); r=$(curl -s -m 2 http://${v.ip}:${v.port}/ | head -1); echo "$s \${r:-FAIL}"; done`,
    ]);
    let out = '';
    loop.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const done = new Promise((r) => loop.once('exit', r));
    await sleep(1000);
    const killedAt = Date.now();
    const gone = everyAgent(v, `${ip} . 80`, false);
    assert.equal((await api('DELETE', `/v2/apps/web/tasks/${victim.id}`)).status, 200);
    const outAt = await gone;
    assert.ok(
      outAt - killedAt < 1000,
      `killed backend out of every agent ${outAt - killedAt} ms after the kill`,
    );
    await done;
    const lines = out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string]);
    const after = lines.filter(([t]) => Number(t) > outAt);
    assert.ok(after.length > 20, `${after.length} requests after the removal`);
    t.diagnostic(
      `killed backend out ${outAt - killedAt} ms after the kill; ${lines.length} requests, ${after.length} after`,
    );
    assert.deepEqual(
      after.filter(([, r]) => r === 'FAIL' || r === victim.id),
      [],
      'no failure, never the killed task',
    );
    assert.deepEqual(
      lines.filter(([, r]) => r === 'FAIL'),
      [],
      'no failure at all (the task drains while KILLING)',
    );
    await eventually(async () => assert.equal((await running('/web')).length, 3), 15_000);
  },
);

test(
  'VIPs keep working while the dcnet master is down and across an agent restart',
  { skip: NEEDS_ROOT },
  async () => {
    const v = await vipOf('/web');
    const want = (await running('/web')).map((t) => t.id).sort();
    const client = clients.get('a3')!;
    await demo.cluster.stopMaster('SIGKILL');
    try {
      const seen = await demo.hitVip(client.netns, v.ip, v.port, 18);
      assert.equal(seen.get('FAIL'), undefined, JSON.stringify([...seen]));
      assert.deepEqual([...seen.keys()].sort(), want, 'master down: the programmed table serves');
      // An agent restarting while the master is away keeps the table it programmed.
      await demo.cluster.stopAgent('a3');
      demo.cluster.startAgent('a3');
      await sleep(1500);
      const again = await demo.hitVip(client.netns, v.ip, v.port, 18);
      assert.equal(again.get('FAIL'), undefined, JSON.stringify([...again]));
      assert.deepEqual([...again.keys()].sort(), want, 'agent restarted without a master');
    } finally {
      demo.cluster.restartMaster();
    }
    // Back: changes flow again (a scale shows up on the restarted agent).
    await eventually(
      async () => assert.equal((await api('PUT', '/v2/apps/web', { instances: 4 })).status, 200),
      20_000,
      500,
    );
    const fresh = await eventually(async () => {
      const t = (await running('/web')).find((x) => !want.includes(x.id));
      assert.ok(t);
      return t;
    }, 20_000);
    await whenTarget('a3', v, `${fresh.ipAddresses[0]!.ipAddress} . 80`, true, 15_000);
    assert.equal((await api('PUT', '/v2/apps/web', { instances: 3 })).status, 200);
  },
);

test(
  "an invalid label (or an IP VIP on a node's address) is a named error; its app's other VIPs and every other VIP keep working",
  { skip: NEEDS_ROOT },
  async () => {
    const a1 = demo.cluster.agent('a1').host.ip;
    const r = await api('POST', '/v2/apps', {
      id: '/mixed',
      instances: 1,
      portDefinitions: [
        { port: 0, name: 'bad', labels: { VIP_0: 'no-port-here' } },
        { port: 0, name: 'good', labels: { VIP_0: '/mixed:7000' } },
        { port: 0, name: 'node', labels: { VIP_0: `${a1}:22` } },
        { port: 0, name: 'dns', labels: { VIP_0: '198.51.100.1:53' } },
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    try {
      const task = await eventually(async () => {
        const t = await running('/mixed');
        assert.equal(t.length, 1);
        return t[0]!;
      }, 20_000);
      const errors = await eventually(async () => {
        const text = await demo.cluster.httpPost(
          demo.cluster.master.host,
          `${demo.cluster.master.url}/store/v1/get`,
          {
            key: 'l4lb/errors',
          },
        );
        const list = JSON.parse((JSON.parse(text) as { kv: { value: string } }).kv.value) as {
          code: string;
          task: string;
          message: string;
        }[];
        assert.ok(
          list.some((e) => e.code === 'VIP_NO_PORT' && e.task === task.id),
          JSON.stringify(list),
        );
        return list;
      }, 10_000);
      const forbidden = errors.filter((e) => e.code === 'VIP_ADDRESS_FORBIDDEN').map((e) => e.message);
      assert.equal(forbidden.length, 2, JSON.stringify(errors));
      assert.match(forbidden[0]!, new RegExp(`^${a1.replace(/\./g, '\\.')} is the address of agent \\S+`));
      assert.equal(forbidden[1], '198.51.100.1 is a DC/OS DNS address; a VIP may not take it');
      const published = (await demo.vips()).vips.map((v) => v.ip);
      assert.ok(!published.includes(a1) && !published.includes('198.51.100.1'), published.join(' '));
      assert.ok(
        errors.every((e) => e.task === task.id),
        'only the bad label is reported',
      );
      const good = await vipOf('/mixed');
      const seen = await eventually(async () => {
        const s = await demo.hitVip(clients.get('a1')!.netns, good.ip, 7000, 3);
        assert.deepEqual([...s.keys()], [task.id]);
        return s;
      }, 5000);
      assert.equal(seen.get(task.id), 3);
      const web = await vipOf('/web');
      const w = await demo.hitVip(clients.get('a1')!.netns, web.ip, web.port, 6);
      assert.equal(w.get('FAIL'), undefined);
    } finally {
      await api('DELETE', '/v2/apps/mixed');
    }
  },
);
