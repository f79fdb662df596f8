// `dcnet lb` end to end on the demo cluster: the emulator's Marathon, real tasks on the overlay,
// HAProxy on the public agent. Vhost routing reaches every instance; scaling 3→5→2→4→3 under a
// steady load loses no request and needs no reload; a label change reloads seamlessly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Demo, DEMO_LB_AGENT, DEMO_VHOST } from '../../src/sim/index.js';
import { scaleWeb, startLoad } from '../../bench/lib/l7-load.js';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';

let demo: Demo;
let workdir: string;

const lbIp = () => demo.cluster.agent(DEMO_LB_AGENT).host.ip;
const fromNs = () => demo.cluster.master.host.netns;

async function curl(args: string[]): Promise<string> {
  const { stdout } = await demo.cluster.tb.exec(fromNs(), 'curl', ['-s', '-m', '5', ...args]);
  return stdout;
}

async function lbStatus(): Promise<{ reloads: number; reloadsAvoided: number; pendingRemovals: number }> {
  return JSON.parse(await curl([`http://${lbIp()}:9090/_dcnet/status`])) as never;
}

/** Servers of the web backend HAProxy currently sends traffic to (not in maintenance). */
async function webServers(): Promise<string[]> {
  const csv = await curl([`http://${lbIp()}:9090/haproxy?stats;csv`]);
  return csv
    .split('\n')
    .map((l) => l.split(','))
    .filter((f) => f[0]?.startsWith('web_') && f[1] !== 'FRONTEND' && f[1] !== 'BACKEND' && f[1])
    .filter((f) => !/MAINT/.test(f[17] ?? ''))
    .map((f) => f[1]!);
}

before(async () => {
  if (NEEDS_ROOT) return;
  workdir = await mkdtemp(join(tmpdir(), 'dcnet-test-l7-'));
  demo = await Demo.up({ workdir, detach: false, say: () => {} });
});

after(async () => {
  await demo?.destroy();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

test(`${DEMO_VHOST} reaches every web instance through the public agent`, { skip: NEEDS_ROOT }, async () => {
  const tasks = (await demo.tasks()).filter((t) => t.app === '/web').map((t) => t.id);
  assert.equal(tasks.length, 3);
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++)
    seen.add((await curl(['-H', `Host: ${DEMO_VHOST}`, `http://${lbIp()}/`])).split('\n')[0]!);
  assert.deepEqual([...seen].sort(), [...tasks].sort());
  const cfg = await curl([`http://${lbIp()}:9090/_haproxy_getconfig`]);
  assert.match(
    cfg,
    /acl host_web_example_test_web hdr\(host\) -i web\.example\.test\n {2}use_backend web_\d+ if host_web_example_test_web\n/,
  );
  assert.match(cfg, /option {2}httpchk GET \/\n {2}timeout check 2s\n/);
  assert.equal(
    (cfg.match(/^ {2}server \S+ 9\.0\.\d+\.\d+:80 id \d+ check inter 2s fall 4$/gm) ?? []).length,
    3,
  );
});

test('scaling 3→5→2→4→3 under steady load: no request lost, no reload', { skip: NEEDS_ROOT }, async () => {
  const before = await lbStatus();
  const load = await startLoad(demo, fromNs(), {
    url: `http://${lbIp()}/`,
    host: DEMO_VHOST,
    concurrency: 8,
  });
  try {
    for (const n of [5, 2, 4, 3]) await scaleWeb(demo, n, webServers);
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    const r = await load.finish();
    assert.equal(r.failed, 0, JSON.stringify(r));
    assert.ok(r.ok > 200, `only ${r.ok} requests in ${r.seconds} s`);
    assert.ok(Object.keys(r.tasks).length >= 5, `answers from ${Object.keys(r.tasks).length} tasks`);
  }
  const after = await lbStatus();
  assert.equal(after.reloads, before.reloads, 'membership changes needed no reload');
  assert.ok(after.reloadsAvoided - before.reloadsAvoided >= 4, JSON.stringify(after));
  const tasks = (await demo.tasks()).filter((t) => t.app === '/web').map((t) => t.id);
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++)
    seen.add((await curl(['-H', `Host: ${DEMO_VHOST}`, `http://${lbIp()}/`])).split('\n')[0]!);
  assert.deepEqual([...seen].sort(), [...tasks].sort());
});

test(
  'reloads for another app are seamless under load; scaled to zero the vhost answers 503',
  { skip: NEEDS_ROOT },
  async () => {
    const before = await lbStatus();
    const load = await startLoad(demo, fromNs(), {
      url: `http://${lbIp()}/`,
      host: DEMO_VHOST,
      concurrency: 8,
    });
    try {
      // A new app with its own vhost is new structure (frontend, ACLs, backend): a reload.
      await curl([
        '-X',
        'POST',
        '-H',
        'content-type: application/json',
        '-d',
        JSON.stringify({
          id: '/web2',
          instances: 1,
          cmd: 'dcnet built-in task server',
          networks: [{ mode: 'container', name: 'dcos' }],
          container: { type: 'MESOS', portMappings: [{ containerPort: 80, name: 'http' }] },
          labels: { HAPROXY_GROUP: 'external', HAPROXY_0_VHOST: 'web2.example.test' },
        }),
        `${demo.marathonUrl}/v2/apps`,
      ]);
      await eventually(
        async () =>
          assert.match(await curl(['-H', 'Host: web2.example.test', `http://${lbIp()}/`]), /^web2\./),
        60_000,
        250,
      );
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      const r = await load.finish();
      assert.equal(r.failed, 0, JSON.stringify(r));
    }
    assert.ok((await lbStatus()).reloads > before.reloads);
    await scaleWeb(demo, 0, webServers);
    assert.equal(
      await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', `Host: ${DEMO_VHOST}`, `http://${lbIp()}/`]),
      '503',
    );
  },
);
