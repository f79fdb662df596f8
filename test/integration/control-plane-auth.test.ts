// The master's control plane over TLS, in this process on loopback: every registered route refuses
// callers without a verified certificate, and each role gets exactly what the access table says.
// (test/e2e/control-plane-auth.test.ts asks the same from inside a test cluster's namespaces.)
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { Agent, fetch as undiciFetch } from 'undici';
import { parseConfig } from '../../src/config/index.js';
import { EmbeddedStore, HttpStore, StoreError } from '../../src/store/index.js';
import {
  HaMaster,
  LEADER_KEY,
  CONTROL_PLANE_ROUTES,
  startMasterServer,
  type MasterServer,
} from '../../src/overlay/index.js';
import {
  createCa,
  issueCertificate,
  serverTlsOptions,
  tlsClient,
  type ControlClient,
  type TlsFiles,
} from '../../src/pki/index.js';
import { testPki, type TestPki } from '../helpers/pki.js';
import { testLogger } from '../helpers/log.js';

const A1 = '192.0.2.1';
const A2 = '192.0.2.2';
let pki: TestPki;
let server: MasterServer;
const clients: ControlClient[] = [];
const as = async (role: 'agent' | 'master' | 'operator', ips: string[] = []): Promise<ControlClient> => {
  const c = await pki.client(role, ips);
  clients.push(c);
  return c;
};

before(async () => {
  pki = await testPki();
  server = await startMasterServer({
    config: parseConfig({}),
    host: '127.0.0.1',
    port: 0,
    logger: testLogger(),
    tls: await pki.files('master', ['127.0.0.1']),
  });
});
after(async () => {
  for (const c of clients) await c.close();
  await server?.close();
});

const post = (c: ControlClient, path: string, body: unknown) =>
  c.fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** Every route the master registered, with its parameters filled in. */
function registeredRoutes(): { method: string; path: string; url: string }[] {
  return server.auth!.routes().map((r) => ({ ...r, path: r.url.replace(':ip', A1) }));
}

test('auth: the access table covers every route the master registers, and no more', () => {
  assert.deepEqual(server.auth!.uncovered(), []);
  const registered = new Set(server.auth!.routes().map((r) => `${r.method} ${r.url}`));
  for (const r of CONTROL_PLANE_ROUTES)
    assert.ok(registered.has(`${r.method} ${r.url}`), `stale rule ${r.url}`);
  assert.ok(registered.size >= 20, `only ${registered.size} routes seen`);
});

test('auth: without a certificate, or with one from another CA, every route but /health is 401', async (t) => {
  const anonymous = new Agent({ connect: { ca: pki.ca.certPem } });
  const otherCa = await createCa();
  const other = await issueCertificate(otherCa, { role: 'master', ips: ['127.0.0.1'] });
  const stranger = new Agent({ connect: { ca: pki.ca.certPem, cert: other.certPem, key: other.keyPem } });
  t.after(() => Promise.all([anonymous.close(), stranger.close()]));
  for (const { method, path } of registeredRoutes()) {
    for (const [who, dispatcher, reason] of [
      ['anonymous', anonymous, 'no-certificate'],
      ['other CA', stranger, 'untrusted-certificate'],
    ] as const) {
      const res = await undiciFetch(`${server.url}${path}`, {
        method,
        dispatcher,
        ...(method !== 'GET' && { headers: { 'content-type': 'application/json' }, body: '{}' }),
      });
      const body = await res.text();
      if (path === '/health') {
        assert.equal(res.status, 200, `${who} ${method} ${path}`);
        continue;
      }
      assert.equal(res.status, 401, `${who} ${method} ${path}: ${body}`);
      assert.equal((JSON.parse(body) as { reason: string }).reason, reason);
    }
  }
  // Plain HTTP on the TLS port gets nowhere.
  await assert.rejects(fetch(server.url.replace('https:', 'http:') + '/overlay-master/state'));
});

test('auth: an agent registers and acknowledges only as the IP in its certificate', async () => {
  const a1 = await as('agent', [A1]);
  const ok = await post(a1, '/overlay-master/agents', { ip: A1 });
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.equal(((await ok.json()) as { ip: string }).ip, A1);
  for (const path of ['/overlay-master/agents', '/overlay-master/agents/ack']) {
    const res = await post(a1, path, { ip: A2, overlays: [] });
    assert.equal(res.status, 403, path);
    assert.equal(((await res.json()) as { reason: string }).reason, 'not-own-ip');
  }
  // Spellings of the same address are other agents, not a way around the check.
  const zero = await post(a1, '/overlay-master/agents', { ip: '192.0.2.01' });
  assert.ok(zero.status === 403 || zero.status === 400, String(zero.status));
  assert.equal(server.master()!.agentInfo(A2), undefined);
  // Admin operations are not an agent's.
  const del = await post(a1, '/overlay-master/agents/delete', { agents: [A1] });
  assert.equal(del.status, 403);
  assert.ok(server.master()!.agentInfo(A1));
  // An operator registers nothing but may delete an agent.
  const op = await as('operator');
  assert.equal((await post(op, '/overlay-master/agents', { ip: A2 })).status, 403);
  assert.equal((await op.fetch(`${server.url}/overlay-master/state`)).status, 200);
  const gone = await post(op, '/overlay-master/agents/delete', { agents: [A1] });
  assert.equal(gone.status, 200);
  assert.equal(server.master()!.agentInfo(A1), undefined);
});

test('auth: through the store API an agent writes only its own keys, under its own leases', async (t) => {
  const files1 = await pki.files('agent', [A1]);
  const s1 = new HttpStore(server.url, { tls: files1 });
  const s2 = new HttpStore(server.url, { tls: await pki.files('agent', [A2]) });
  const op = new HttpStore(server.url, { tls: await pki.files('operator') });
  t.after(() => Promise.all([s1.close(), s2.close(), op.close()]));
  const lease = await s1.grantLease(30);
  await s1.put(`overlay/nodes/${A1}`, '{"ip":"192.0.2.1"}', { lease });
  await s1.put(`overlay/node-status/${A1}`, '{}');
  assert.equal(await s1.keepAlive(lease), 30);
  for (const key of [
    `overlay/nodes/${A2}`,
    'overlay/agents/192.0.2.1',
    'l4lb/vips/web',
    'dns/zones/x',
    LEADER_KEY,
  ]) {
    await assert.rejects(s1.put(key, '{}'), /may write only|written only by the masters/, key);
    await assert.rejects(s1.delete(key), /may write only|written only by the masters/, key);
  }
  // Another agent can neither overwrite, delete, keep alive nor revoke A1's publication.
  await assert.rejects(s2.put(`overlay/nodes/${A1}`, '{}'), /may write only/);
  await assert.rejects(s2.delete(`overlay/nodes/${A1}`), /may write only/);
  await assert.rejects(
    s2.keepAlive(lease),
    (e: Error) => e instanceof StoreError && e.code === 'lease-not-found',
  );
  await assert.rejects(
    s2.revokeLease(lease),
    (e: Error) => e instanceof StoreError && e.code === 'lease-not-found',
  );
  await assert.rejects(
    s2.put(`overlay/nodes/${A2}`, '{}', { lease }),
    (e: Error) => e instanceof StoreError && e.code === 'lease-not-found',
  );
  assert.equal((await op.get(`overlay/nodes/${A1}`))?.value, '{"ip":"192.0.2.1"}');
  // Operators read, never write.
  await assert.rejects(op.put(`overlay/nodes/${A1}`, '{}'), /not allowed for role operator/);
  // The leader key is not writable by anyone through the API, masters included.
  const m = new HttpStore(server.url, { tls: await pki.files('master', ['127.0.0.1']) });
  t.after(() => m.close());
  await assert.rejects(
    m.txn({
      success: [
        { type: 'delete', key: LEADER_KEY },
        { type: 'put', key: LEADER_KEY, value: '{}' },
      ],
    }),
    /written only by the masters/,
  );
  await s1.revokeLease(lease);
  assert.equal(await op.get(`overlay/nodes/${A1}`), undefined);
});

test('auth: an agent cannot hold more leases than its quota', async (t) => {
  const s = new HttpStore(server.url, { tls: await pki.files('agent', ['192.0.2.9']) });
  t.after(() => s.close());
  const leases: string[] = [];
  for (;;) {
    try {
      leases.push(await s.grantLease(30));
    } catch (err) {
      assert.match((err as Error).message, /holds 16 leases already/);
      break;
    }
    assert.ok(leases.length <= 16);
  }
  assert.equal(leases.length, 16);
  await s.revokeLease(leases[0]!);
  await s.grantLease(30);
});

test('auth: refusals are counted by reason in dcnet_auth_refused_total', async () => {
  const op = await as('operator');
  const metrics = await (await op.fetch(`${server.url}/metrics`)).text();
  for (const reason of [
    'no-certificate',
    'untrusted-certificate',
    'not-own-ip',
    'role',
    'not-own-key',
    'reserved-key',
    'lease-quota',
  ])
    assert.match(metrics, new RegExp(`dcnet_auth_refused_total\\{reason="${reason}"\\} [1-9]`), reason);
});

async function fakeLeader(files: TlsFiles): Promise<{ url: string; seen: string[]; close(): void }> {
  const seen: string[] = [];
  const s = https.createServer(serverTlsOptions(files), (req, res) => {
    seen.push(String(req.headers['x-dcnet-forwarded-for']));
    res.setHeader('content-type', 'application/json');
    res.end('{"forwarded":true}');
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${(s.address() as AddressInfo).port}`, seen, close: () => s.close() };
}

test('ha: a follower forwards only to a leader whose certificate says master', async (t) => {
  const store = await EmbeddedStore.open();
  t.after(() => store.close());
  const impostor = await fakeLeader(await pki.files('agent', ['127.0.0.1']));
  const real = await fakeLeader(await pki.files('master', ['127.0.0.1']));
  t.after(() => {
    impostor.close();
    real.close();
  });
  const lease = await store.grantLease(60);
  await store.put(LEADER_KEY, JSON.stringify({ id: 'leader', url: impostor.url }), { lease });
  const peers = tlsClient(await pki.files('master', ['127.0.0.1']), { requirePeerRole: 'master' });
  const ha = new HaMaster({
    config: parseConfig({}).network,
    store,
    self: { id: 'me', url: 'https://127.0.0.1:1' },
    log: testLogger(),
    events: {},
    peers,
    caller: () => 'agent:192.0.2.1',
  });
  ha.start();
  t.after(async () => {
    await ha.stop();
    await peers.close();
  });
  const app = Fastify();
  app.post('/x', (request, reply) => ha.forward(request, reply));
  t.after(() => app.close());
  const deadline = Date.now() + 5000;
  while (ha.leader()?.url !== impostor.url && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  const refused = await app.inject({ method: 'POST', url: '/x', payload: {} });
  assert.equal(refused.statusCode, 503);
  assert.match(refused.body, /not role master/);
  assert.deepEqual(impostor.seen, []);

  await store.put(LEADER_KEY, JSON.stringify({ id: 'leader', url: real.url }), { lease });
  while (ha.leader()?.url !== real.url && Date.now() < deadline + 5000)
    await new Promise((r) => setTimeout(r, 20));
  const ok = await app.inject({ method: 'POST', url: '/x', payload: {} });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(real.seen, ['agent:192.0.2.1']);
});
