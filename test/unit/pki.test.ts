// The cluster PKI: what the certificates say, how a verified identity is read back, what the TLS
// helpers accept and refuse on real connections, and the files on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { stat, writeFile, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import {
  createCa,
  identityOf,
  issueCertificate,
  loadCaDir,
  loadTlsDir,
  peerIdentity,
  serverTlsOptions,
  tlsClient,
  writeCaDir,
  writeTlsDir,
  type TlsFiles,
} from '../../src/pki/index.js';
import { testPki } from '../helpers/pki.js';
import { tempDir } from '../helpers/tmp.js';

test('pki: node certificates carry role, name and IPs; the identity is read back from them', async () => {
  const pki = await testPki();
  const agent = new X509Certificate((await pki.files('agent', ['192.0.2.1'])).cert);
  assert.deepEqual(identityOf(agent), { role: 'agent', ips: ['192.0.2.1'], name: '192.0.2.1' });
  assert.match(agent.subject, /O=dcnet:agent/);
  assert.ok(agent.checkIssued(new X509Certificate(pki.ca.certPem)));
  assert.equal(agent.ca, false);
  const master = new X509Certificate((await pki.files('master', ['192.0.2.100', '2001:db8::1'])).cert);
  assert.deepEqual(identityOf(master), {
    role: 'master',
    ips: ['192.0.2.100', '2001:db8::1'],
    name: '192.0.2.100',
  });
  const op = new X509Certificate((await pki.files('operator', [], 'alice')).cert);
  assert.deepEqual(identityOf(op), { role: 'operator', ips: [], name: 'alice' });
  // The CA itself names no role: it is never an identity.
  assert.equal(identityOf(new X509Certificate(pki.ca.certPem)), undefined);
});

test('pki: issuing refuses what a certificate must not say, naming the option', async () => {
  const pki = await testPki();
  await assert.rejects(issueCertificate(pki.ca, { role: 'agent' }), /^PkiError: ip: an agent certificate/);
  await assert.rejects(issueCertificate(pki.ca, { role: 'agent', ips: ['10.1'] }), /ip: "10.1" is not an IP/);
  await assert.rejects(issueCertificate(pki.ca, { role: 'operator' }), /name: an operator certificate needs/);
  await assert.rejects(
    issueCertificate(pki.ca, { role: 'operator', name: 'eve, O=dcnet:master' }),
    /name: "eve, O=dcnet:master" is not a name/,
  );
  await assert.rejects(
    issueCertificate(pki.ca, { role: 'root' as 'agent', ips: ['192.0.2.1'] }),
    /role: "root" is not/,
  );
  await assert.rejects(
    issueCertificate({ certPem: pki.ca.certPem, keyPem: 'nonsense' }, { role: 'master', ips: ['192.0.2.1'] }),
    /CA: not a dcnet CA/,
  );
});

/** An https server that answers with the identity it verified. */
async function identityServer(files: TlsFiles): Promise<{ url: string; close(): void }> {
  const server = https.createServer(serverTlsOptions(files), (req, res) => {
    res.end(JSON.stringify(peerIdentity(req.socket as TLSSocket) ?? null));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => server.closeAllConnections(),
  };
}

test('pki: a server reads the identity of a verified client only; clients can insist on a master', async (t) => {
  const pki = await testPki();
  const master = await identityServer(await pki.files('master', ['127.0.0.1']));
  t.after(() => master.close());
  const agent = tlsClient(await pki.files('agent', ['192.0.2.1']), { requirePeerRole: 'master' });
  t.after(() => agent.close());
  assert.deepEqual(await (await agent.fetch(master.url)).json(), {
    role: 'agent',
    ips: ['192.0.2.1'],
    name: '192.0.2.1',
  });

  // A certificate from another CA completes the handshake but names nobody.
  const otherCa = await createCa();
  const other = await issueCertificate(otherCa, { role: 'master', ips: ['127.0.0.1'] });
  const stranger = tlsClient({ ca: pki.ca.certPem, cert: other.certPem, key: other.keyPem });
  t.after(() => stranger.close());
  assert.equal(await (await stranger.fetch(master.url)).json(), null);

  // An agent's certificate on the server: a client that wants a master refuses it.
  const fake = await identityServer(await pki.files('agent', ['127.0.0.1']));
  t.after(() => fake.close());
  await assert.rejects(agent.fetch(fake.url), (err: Error) =>
    /certificate for agent:127\.0\.0\.1, not role master/.test(String((err.cause as Error)?.message)),
  );
  // A server from another CA is not trusted at all.
  const foreign = await identityServer({ ca: otherCa.certPem, cert: other.certPem, key: other.keyPem });
  t.after(() => foreign.close());
  await assert.rejects(agent.fetch(foreign.url));
  // A server whose certificate is for another address fails the hostname check.
  const elsewhere = await identityServer(await pki.files('master', ['192.0.2.100']));
  t.after(() => elsewhere.close());
  await assert.rejects(agent.fetch(elsewhere.url), (err: Error) =>
    /IP: 127\.0\.0\.1 is not in the cert's list/.test(String((err.cause as Error)?.message)),
  );
});

test('pki: CA and TLS directories on disk (keys 0600, no silent CA replacement, missing files named)', async () => {
  const dir = await tempDir('pki-files');
  const ca = await createCa();
  await writeCaDir(join(dir, 'ca'), ca);
  assert.equal((await stat(join(dir, 'ca', 'ca-key.pem'))).mode & 0o777, 0o600);
  await assert.rejects(writeCaDir(join(dir, 'ca'), await createCa()), /a CA exists already.*--force/);
  assert.deepEqual(await loadCaDir(join(dir, 'ca')), ca);
  const replaced = await createCa();
  await writeCaDir(join(dir, 'ca'), replaced, { force: true });
  assert.deepEqual(await loadCaDir(join(dir, 'ca')), replaced);

  const cert = await issueCertificate(replaced, { role: 'master', ips: ['192.0.2.100'] });
  const files = { ca: replaced.certPem, cert: cert.certPem, key: cert.keyPem };
  await writeTlsDir(join(dir, 'm'), files);
  assert.deepEqual(await loadTlsDir(join(dir, 'm')), files);
  assert.equal((await stat(join(dir, 'm', 'key.pem'))).mode & 0o777, 0o600);
  await rm(join(dir, 'm', 'key.pem'));
  await assert.rejects(loadTlsDir(join(dir, 'm')), /m\/key\.pem: missing \(this node’s private key\)/);
  await writeFile(join(dir, 'm', 'key.pem'), 'not a key');
  await assert.rejects(loadTlsDir(join(dir, 'm')), /key\.pem: not a PEM/);
});
