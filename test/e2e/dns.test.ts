// DNS end to end on a demo cluster: every node's resolver serves the zones the master leader
// publishes, follows Marathon changes within seconds, keeps answering while the master is down,
// forwards outside names to the (local fake) upstream, and serves the dcos-dns HTTP API.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Demo, DEMO_OUTSIDE_IP, DEMO_OUTSIDE_NAME } from '../../src/sim/index.js';
import { SPARTAN_IP } from '../../src/dns/dcos/index.js';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';

let demo: Demo;
let workdir: string;

before(async () => {
  if (NEEDS_ROOT) return;
  workdir = await mkdtemp(join(tmpdir(), 'dcnet-test-dns-'));
  demo = await Demo.up({ workdir, detach: false, say: () => {} });
});

after(async () => {
  await demo?.destroy();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

async function dig(
  agent: string,
  ...args: string[]
): Promise<{ status: string; answers: string[]; ms: number }> {
  const ns = demo.cluster.agent(agent).host.netns;
  const started = Date.now();
  const { stdout } = await demo.cluster.tb.exec(ns, 'dig', [
    '+time=2',
    '+tries=1',
    `@${SPARTAN_IP}`,
    ...args,
  ]);
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? 'NO ANSWER';
  const section = /;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(stdout)?.[1] ?? '';
  const answers = section
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(/\s+/).at(-1)!)
    .sort();
  return { status, answers, ms: Date.now() - started };
}

async function marathon(method: string, path: string, body?: unknown): Promise<number> {
  const args = [
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '-m',
    '10',
    '-X',
    method,
    `${demo.marathonUrl}${path}`,
  ];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '-d', JSON.stringify(body));
  const { stdout } = await demo.cluster.tb.exec(demo.cluster.master.host.netns, 'curl', args);
  return Number(stdout);
}

const WEB = 'web.marathon.autoip.dcos.thisdcos.directory';
const webIps = async (): Promise<string[]> =>
  (await demo.tasks())
    .filter((t) => t.app === '/web')
    .flatMap((t) => t.ips)
    .sort();

test(
  'zones follow Marathon: scaling web changes its name on every node within seconds',
  { skip: NEEDS_ROOT },
  async () => {
    assert.equal(await marathon('PUT', '/v2/apps/web', { instances: 4 }), 200);
    await eventually(async () => assert.equal((await webIps()).length, 4), 20_000);
    const want = await webIps();
    const started = Date.now();
    for (const n of demo.cluster.agents.keys()) {
      await eventually(async () => assert.deepEqual((await dig(n, WEB)).answers, want), 15_000, 200);
    }
    const took = Date.now() - started;
    assert.ok(took < 10_000, `took ${took} ms`);
    assert.equal(await marathon('PUT', '/v2/apps/web', { instances: 3 }), 200);
    await eventually(async () => assert.equal((await webIps()).length, 3), 20_000);
    const three = await webIps();
    await eventually(async () => assert.deepEqual((await dig('a1', WEB)).answers, three), 15_000, 200);
  },
);

test('standard answers: NXDOMAIN with SOA, aliases, upstream forwarding', { skip: NEEDS_ROOT }, async () => {
  const nx = await dig('a2', 'nothere.dcos.thisdcos.directory');
  assert.equal(nx.status, 'NXDOMAIN');
  const alias = await dig('a2', 'web.marathon.autoip.dcos.thisdcos.global');
  assert.deepEqual(alias.answers, await webIps());
  const outside = await dig('a3', DEMO_OUTSIDE_NAME);
  assert.deepEqual(outside.answers, [DEMO_OUTSIDE_IP]);
  const refused = await dig('a3', 'unknown.example.test');
  assert.equal(refused.status, 'REFUSED', 'the fake upstream refuses what it does not know; relayed as is');
});

test('dcos-dns HTTP API on the agent', { skip: NEEDS_ROOT }, async () => {
  const a1 = demo.cluster.agent('a1');
  const body = await demo.cluster.httpGet(a1.host, `${a1.url}/v1/hosts/${WEB}`);
  const hosts = (JSON.parse(body) as Array<{ host: string; ip: string }>).map((h) => h.ip).sort();
  assert.deepEqual(hosts, await webIps());
  const version = JSON.parse(await demo.cluster.httpGet(a1.host, `${a1.url}/v1/version`)) as {
    Service: string;
  };
  assert.equal(version.Service, 'dcos-dns');
});

test(
  'every node keeps answering from its last zones while the master is down',
  { skip: NEEDS_ROOT },
  async () => {
    const want = await webIps();
    await demo.cluster.stopMaster('SIGKILL');
    try {
      for (const n of demo.cluster.agents.keys()) {
        const r = await dig(n, WEB);
        assert.deepEqual(r.answers, want, `${n} while the master is down`);
        assert.ok(r.ms < 1500, `${n} answered in ${r.ms} ms`);
      }
      assert.deepEqual((await dig('a1', 'ready.spartan')).answers, ['127.0.0.1']);
    } finally {
      demo.cluster.restartMaster();
    }
    await demo.cluster.waitReady(30_000);
    assert.deepEqual((await dig('a2', WEB)).answers, want);
  },
);
