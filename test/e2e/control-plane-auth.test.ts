// The control plane's trust boundary in a test cluster, asked from where an attacker would be: a
// task's network namespace on the overlay, an agent host with no certificate, an agent host with
// its own (real) agent certificate, and a certificate from another CA. Every route the master
// registers is tried (enumerated from the master code itself, so a new route is covered).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { LEADER_KEY, startMasterServer } from '../../src/overlay/index.js';
import { createCa, issueCertificate, tlsDirPaths, writeTlsDir, type TlsFiles } from '../../src/pki/index.js';
import { OverlayCluster, sweepStale, type Container } from '../../src/sim/index.js';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';
import { testLogger } from '../helpers/log.js';
import { testPki } from '../helpers/pki.js';

let cluster: OverlayCluster;
let workdir: string;
let task: Container;
let routes: { method: string; url: string }[] = [];

/** The routes `dcnet master` registers, read from an in-process master with the same code. */
async function masterRoutes(): Promise<{ method: string; url: string }[]> {
  const pki = await testPki();
  const tls: TlsFiles = await pki.files('master', ['127.0.0.1']);
  const m = await startMasterServer({
    config: parseConfig({}),
    host: '127.0.0.1',
    port: 0,
    logger: testLogger(),
    tls,
  });
  try {
    return m.auth!.routes();
  } finally {
    await m.close();
  }
}

before(async () => {
  if (NEEDS_ROOT) return;
  await sweepStale();
  routes = await masterRoutes();
  workdir = await mkdtemp(join(tmpdir(), 'dcnet-test-e2e-auth-'));
  cluster = await OverlayCluster.start({ agents: 2, workdir });
  await cluster.waitReady(30_000);
  // A task on the overlay, on a1: what a tenant's container can reach.
  task = await cluster.tb.addContainer(cluster.agent('a1').host, 'task', [
    await cluster.conflist('a1', 'dcos'),
  ]);
});

after(async () => {
  await cluster?.destroy();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

const A = (name: string) => cluster.agent(name).host.ip;
const path = (url: string) => url.replace(':ip', A('a1'));

test(
  'from a task on the overlay and from an agent host without a certificate: every route but /health is refused',
  { skip: NEEDS_ROOT },
  async () => {
    assert.ok(routes.length >= 20, `${routes.length} routes`);
    for (const [where, netns] of [
      ['task', task.netns],
      ['agent host a2', cluster.agent('a2').host.netns],
    ] as const) {
      for (const r of routes) {
        const res = await cluster.curl(
          netns,
          'none',
          r.method,
          `${cluster.master.url}${path(r.url)}`,
          r.method === 'GET' ? undefined : {},
        );
        if (r.url === '/health') assert.equal(res.status, 200, `${where} ${r.method} ${r.url}`);
        else {
          assert.equal(res.status, 401, `${where} ${r.method} ${r.url}: ${res.body}`);
          assert.match(res.body, /"reason":"no-certificate"/);
        }
      }
      // Plain HTTP to the control-plane port gets no answer at all.
      const plain = await cluster.tb
        .exec(netns, 'curl', [
          '-sS',
          '-m',
          '3',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          `${cluster.master.url.replace('https:', 'http:')}/overlay-master/state`,
        ])
        .then(
          (r) => r.stdout,
          () => '000',
        );
      assert.equal(plain.trim().slice(-3), '000', `${where}: plain HTTP answered ${plain}`);
    }
    // Nothing any of that tried got through.
    const op = cluster.controlPlane('operator');
    const state = await op.json<{ agents: { ip: string }[] }>('GET', '/overlay-master/state');
    assert.deepEqual(state.agents.map((a) => a.ip).sort(), [A('a1'), A('a2')].sort());
  },
);

test('a certificate from another CA is refused on every route', { skip: NEEDS_ROOT }, async () => {
  const ca = await createCa();
  const fake = await issueCertificate(ca, { role: 'master', ips: [A('a1')] });
  const dir = join(workdir, 'pki', 'intruder');
  // It trusts the real CA (to talk at all) but presents a certificate the cluster never issued.
  await writeTlsDir(dir, { ca: cluster.ca!.certPem, cert: fake.certPem, key: fake.keyPem });
  cluster.tls.set('intruder', tlsDirPaths(dir));
  for (const r of routes.filter((x) => x.url !== '/health')) {
    const res = await cluster.curl(
      task.netns,
      { agent: 'intruder' },
      r.method,
      `${cluster.master.url}${path(r.url)}`,
      r.method === 'GET' ? undefined : {},
    );
    assert.equal(res.status, 401, `${r.method} ${r.url}: ${res.body}`);
    assert.match(res.body, /untrusted-certificate/);
  }
});

test(
  "an agent's certificate writes only its own keys and registers only its own IP",
  { skip: NEEDS_ROOT },
  async () => {
    // a1's real certificate, used from a1's host, against a2's and the masters' keys.
    const a1 = cluster.controlPlane({ agent: 'a1' }, cluster.agent('a1').host);
    const op = cluster.controlPlane('operator');
    const a2Published = await op.store.get(`overlay/nodes/${A('a2')}`);
    assert.ok(a2Published, "a2's published node info");
    const refused = async (what: string, p: Promise<{ status: number; body: string }>, reason: RegExp) => {
      const r = await p;
      assert.equal(r.status, 403, `${what}: ${r.status} ${r.body}`);
      assert.match(r.body, reason, what);
    };
    const txn = (ops: unknown[]) => a1.request('POST', '/store/v1/txn', { success: ops });
    await refused(
      'put another node',
      txn([{ type: 'put', key: `overlay/nodes/${A('a2')}`, value: '{}' }]),
      /not-own-key/,
    );
    await refused(
      'delete another node',
      txn([{ type: 'delete', key: `overlay/nodes/${A('a2')}` }]),
      /not-own-key/,
    );
    await refused(
      'write an allocation',
      txn([{ type: 'put', key: `overlay/agents/${A('a1')}`, value: '{}' }]),
      /not-own-key/,
    );
    await refused(
      'write the VIP table',
      txn([{ type: 'put', key: 'l4lb/vips/evil', value: '{}' }]),
      /not-own-key/,
    );
    await refused(
      'write a DNS zone',
      txn([{ type: 'put', key: 'dns/zones/dcos.thisdcos.directory', value: '{}' }]),
      /not-own-key/,
    );
    await refused(
      'take the leader key',
      txn([
        { type: 'delete', key: LEADER_KEY },
        { type: 'put', key: LEADER_KEY, value: '{"id":"x","url":"https://192.0.2.66:1"}' },
      ]),
      /reserved-key/,
    );
    await refused(
      'register another IP',
      a1.request('POST', '/overlay-master/agents', { ip: A('a2') }),
      /not-own-ip/,
    );
    await refused(
      'register a new IP',
      a1.request('POST', '/overlay-master/agents', { ip: '192.0.2.77' }),
      /not-own-ip/,
    );
    await refused(
      'acknowledge for another',
      a1.request('POST', '/overlay-master/agents/ack', { ip: A('a2'), overlays: [] }),
      /not-own-ip/,
    );
    await refused(
      'delete an agent',
      a1.request('POST', '/overlay-master/agents/delete', { agents: [A('a2')] }),
      /"reason":"role"/,
    );
    // What it may do: read, and register itself again (an idempotent answer).
    assert.equal((await a1.request('POST', '/overlay-master/agents', { ip: A('a1') })).status, 200);
    assert.equal((await a1.request('GET', '/overlay-master/state')).status, 200);
    // Nothing changed.
    assert.deepEqual(await op.store.get(`overlay/nodes/${A('a2')}`), a2Published);
    const state = await op.json<{ agents: { ip: string }[] }>('GET', '/overlay-master/state');
    assert.deepEqual(state.agents.map((a) => a.ip).sort(), [A('a1'), A('a2')].sort());
    const leader = await op.store.get(LEADER_KEY);
    assert.equal(leader, undefined, 'a single master holds no leader key; none was written');
    // Refusals are counted by reason.
    const metrics = (await op.request('GET', '/metrics')).body;
    for (const reason of ['no-certificate', 'not-own-key', 'reserved-key', 'not-own-ip', 'role'])
      assert.match(metrics, new RegExp(`dcnet_auth_refused_total\\{reason="${reason}"\\} [1-9]`), reason);
  },
);

test('an operator deletes an agent; the agent registers again by itself', { skip: NEEDS_ROOT }, async () => {
  const op = cluster.controlPlane('operator');
  const r = await op.request('POST', '/overlay-master/agents/delete', { agents: [A('a2')] });
  assert.equal(r.status, 200, r.body);
  assert.ok(!(JSON.parse(r.body) as { agents: { ip: string }[] }).agents.some((a) => a.ip === A('a2')));
  // Operators write nothing in the store directly.
  const w = await op.request('POST', '/store/v1/txn', { success: [{ type: 'put', key: 'x', value: 'y' }] });
  assert.equal(w.status, 403);
  await eventually(async () => {
    const state = await op.json<{ agents: { ip: string }[] }>('GET', '/overlay-master/state');
    assert.ok(
      state.agents.some((a) => a.ip === A('a2')),
      'a2 registered again',
    );
    assert.ok(await op.store.get(`overlay/nodes/${A('a2')}`), 'a2 published again');
  }, 20_000);
});
