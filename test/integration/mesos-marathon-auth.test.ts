// Authenticating to Mesos and Marathon on a cluster that requires it (the emulator in DC/OS strict
// mode): HTTP basic auth, and DC/OS service accounts through the login endpoint — token reused
// until it expires, a new login after expiry or when the server stops taking it, refusal of a
// wrong key or no credentials with an error that says so. Also `dcnet mesos-dns`'s IAM config and
// `dcnet lb --auth-credentials` / `--dcos-auth-credentials` against the same emulator.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import {
  basicAuth,
  MesosStatePoller,
  serviceAccountAuth,
  type HttpAuth,
  type ServiceAccount,
} from '../../src/cluster/index.js';
import { MarathonClient } from '../../src/l7lb/index.js';
import { mesosDnsAuth, parseMesosDnsConfig } from '../../src/dns/mesos/index.js';
import {
  Emulator,
  LOGIN_PATH,
  marathonApi,
  mesosApi,
  newAuthCounters,
  type ApiAuth,
  type EmulatorAuth,
} from '../../src/sim/index.js';
import { runDcnet } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';

const keys = () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    public: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    private: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
};
const account = keys();
const stranger = keys();
const silent = pino({ level: 'silent' });

/** A logger whose lines a test can read. */
function recordingLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

interface Strict {
  auth: ApiAuth;
  mesos: FastifyInstance;
  marathon: FastifyInstance;
  mesosUrl: string;
  marathonUrl: string;
}

const emu = new Emulator({
  topology: {
    prefix: 'dcnet-auth-test',
    workdir: '/nonexistent',
    master: { netns: 'none', ip: '127.0.0.1' },
    agents: [
      {
        name: 'a1',
        netns: 'none',
        ip: '192.0.2.1',
        public: false,
        cniDir: '/nonexistent',
        cniPluginsDir: '/usr/lib/cni',
      },
    ],
  },
  log: silent,
});

async function strictCluster(
  policy: Partial<EmulatorAuth>,
  ports = { mesos: 0, marathon: 0 },
): Promise<Strict> {
  const auth: ApiAuth = { policy: { tokenTtlS: 432_000, ...policy }, counters: newAuthCounters() };
  const mesos = mesosApi(emu, silent, ports.mesos, ports.marathon, auth);
  const marathon = marathonApi(emu, silent, auth);
  const mesosUrl = await mesos.listen({ host: '127.0.0.1', port: ports.mesos });
  const marathonUrl = await marathon.listen({ host: '127.0.0.1', port: ports.marathon });
  return { auth, mesos, marathon, mesosUrl, marathonUrl };
}
const stop = async (c: Strict) => Promise.all([c.mesos.close(), c.marathon.close()]);

let strict: Strict;
before(async () => {
  strict = await strictCluster({
    basic: { principal: 'dcnet', secret: 's3cret' },
    serviceAccounts: [{ uid: 'dcnet-sa', public_key: account.public }],
  });
});
after(async () => {
  await stop(strict);
});

const sa = (loginUrl: string, privateKey = account.private): ServiceAccount => ({
  uid: 'dcnet-sa',
  private_key: privateKey,
  login_endpoint: `${loginUrl}${LOGIN_PATH}`,
});

async function poll(
  url: string,
  auth?: HttpAuth,
): Promise<{ ok: boolean; lines: Record<string, unknown>[] }> {
  const { log, lines } = recordingLog();
  const poller = new MesosStatePoller({
    masters: [url],
    refreshMs: 60_000,
    timeoutMs: 3000,
    log,
    ...(auth && { auth }),
  });
  const ok = await poller.pollOnce();
  await poller.stop();
  return { ok, lines };
}

test('without credentials the strict cluster refuses, and the error says credentials are needed', async () => {
  const r = await poll(strict.mesosUrl);
  assert.equal(r.ok, false);
  assert.match(JSON.stringify(r.lines), /HTTP 401: Mesos asks for credentials/);
  await assert.rejects(
    new MarathonClient([strict.marathonUrl]).apps(),
    /HTTP 401: Marathon asks for credentials/,
  );
});

test('basic auth: right credentials read the state, wrong ones are refused by name', async () => {
  assert.equal((await poll(strict.mesosUrl, basicAuth('dcnet', 's3cret'))).ok, true);
  const wrong = await poll(strict.mesosUrl, basicAuth('dcnet', 'guess'));
  assert.equal(wrong.ok, false);
  assert.match(JSON.stringify(wrong.lines), /refused basic auth as dcnet/);
  const apps = (await new MarathonClient(
    [strict.marathonUrl],
    3000,
    basicAuth('dcnet', 's3cret'),
  ).apps()) as {
    apps: unknown[];
  };
  assert.deepEqual(apps.apps, []);
});

test('service account: one login, the token reused for later calls', async () => {
  const before = strict.auth.counters.logins;
  const auth = serviceAccountAuth(sa(strict.mesosUrl));
  assert.equal((await poll(strict.mesosUrl, auth)).ok, true);
  assert.equal((await poll(strict.mesosUrl, auth)).ok, true);
  await new MarathonClient([strict.marathonUrl], 3000, auth).apps();
  assert.equal(strict.auth.counters.logins, before + 1, 'one login for three calls');
});

test('service account: logs in again once its token expires', async () => {
  const short = await strictCluster({
    serviceAccounts: [{ uid: 'dcnet-sa', public_key: account.public }],
    tokenTtlS: 1,
  });
  try {
    const auth = serviceAccountAuth(sa(short.mesosUrl), { marginMs: 0 });
    assert.equal((await poll(short.mesosUrl, auth)).ok, true);
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal((await poll(short.mesosUrl, auth)).ok, true);
    assert.equal(short.auth.counters.logins, 2);
  } finally {
    await stop(short);
  }
});

test('service account: a token the server no longer takes (401) is dropped and the call retried after a new login', async () => {
  const first = await strictCluster({ serviceAccounts: [{ uid: 'dcnet-sa', public_key: account.public }] });
  const ports = {
    mesos: first.mesos.server.address() as { port: number },
    marathon: first.marathon.server.address() as { port: number },
  };
  const auth = serviceAccountAuth(sa(first.mesosUrl));
  assert.equal((await poll(first.mesosUrl, auth)).ok, true);
  // The cluster restarts with a new signing key (as an IAM key rotation would): old tokens are void.
  await stop(first);
  const second = await strictCluster(
    { serviceAccounts: [{ uid: 'dcnet-sa', public_key: account.public }] },
    { mesos: ports.mesos.port, marathon: ports.marathon.port },
  );
  try {
    // The first try may meet a keep-alive connection of the old server (closed): the poller's
    // next round goes through, as it would after a real restart.
    let ok = false;
    for (let i = 0; i < 3 && !ok; i++) ok = (await poll(second.mesosUrl, auth)).ok;
    assert.equal(ok, true);
    assert.equal(second.auth.counters.logins, 1);
    assert.equal(second.auth.counters.refused, 1, 'the stale token was refused once');
  } finally {
    await stop(second);
  }
});

test('service account with a key the cluster does not know: login refused, named', async () => {
  const r = await poll(strict.mesosUrl, serviceAccountAuth(sa(strict.mesosUrl, stranger.private)));
  assert.equal(r.ok, false);
  assert.match(
    JSON.stringify(r.lines),
    /login at http:\/\/127\.0\.0\.1:\d+\/acs\/api\/v1\/auth\/login as dcnet-sa refused: HTTP 401/,
  );
});

test('Mesos-DNS config: "iam" with IAMConfigFile (upstream format) and "basic" with MesosCredentials', async () => {
  const dir = await tempDir('iam');
  const file = join(dir, 'iam.json');
  await writeFile(file, JSON.stringify(sa(strict.mesosUrl)), { mode: 0o600 });
  const opts = { file: 'config.json', resolvConfNameservers: [] };
  const iam = parseMesosDnsConfig(
    { masters: [strict.mesosUrl.replace('http://', '')], mesosAuthentication: 'iam', IAMConfigFile: file },
    opts,
  ).config;
  assert.equal((await poll(strict.mesosUrl, await mesosDnsAuth(iam))).ok, true);
  const basic = parseMesosDnsConfig(
    {
      masters: [strict.mesosUrl.replace('http://', '')],
      mesosAuthentication: 'basic',
      mesosCredentials: { principal: 'dcnet', secret: 's3cret' },
    },
    opts,
  ).config;
  assert.equal((await poll(strict.mesosUrl, await mesosDnsAuth(basic))).ok, true);
  const missing = parseMesosDnsConfig(
    { masters: ['127.0.0.1:5050'], mesosAuthentication: 'iam', IAMConfigFile: join(dir, 'nope.json') },
    opts,
  ).config;
  await assert.rejects(mesosDnsAuth(missing), /IAMConfigFile: .*nope\.json/);
});

test('dcnet lb --dry: --auth-credentials and --dcos-auth-credentials reach Marathon; without, a clear failure', async () => {
  const dir = await tempDir('lb-auth');
  const base = [
    'lb',
    '--marathon',
    strict.marathonUrl,
    '--group',
    'external',
    '--dry',
    '--haproxy-config',
    join(dir, 'haproxy.cfg'),
  ];
  const withBasic = await runDcnet([...base, '--auth-credentials', 'dcnet:s3cret']);
  assert.equal(withBasic.code, 0, withBasic.stderr);
  assert.match(withBasic.stdout, /^global/m);
  const withSa = await runDcnet([...base, '--dcos-auth-credentials', JSON.stringify(sa(strict.mesosUrl))]);
  assert.equal(withSa.code, 0, withSa.stderr);
  const without = await runDcnet(base);
  assert.notEqual(without.code, 0);
  assert.match(without.stderr, /Marathon asks for credentials/);
  const bad = await runDcnet([...base, '--auth-credentials', 'no-colon']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Marathon credentials: must be user:password/);
});
