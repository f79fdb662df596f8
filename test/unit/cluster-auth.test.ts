// Credentials for Mesos and Marathon, the parts without a server: header values, the service
// account document and the credentials file, each refused with the field named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { basicAuth, loadCredentials, parseServiceAccount } from '../../src/cluster/index.js';
import { tempDir } from '../helpers/tmp.js';

test('basic auth: the header, and principals HTTP basic auth cannot carry', async () => {
  assert.equal(
    await basicAuth('dcnet', 'pa:ss').header(),
    `Basic ${Buffer.from('dcnet:pa:ss').toString('base64')}`,
  );
  assert.throws(() => basicAuth('', 'x'), /principal: must be non-empty/);
  assert.throws(() => basicAuth('a:b', 'x'), /without ":"/);
  assert.equal(basicAuth('dcnet', 's').describe, 'basic auth as dcnet', 'never the secret');
});

test('service account documents: every missing or bad field named', () => {
  const key = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n';
  const good = {
    scheme: 'RS256',
    uid: 'sa',
    private_key: key,
    login_endpoint: 'https://leader.mesos/acs/api/v1/auth/login',
  };
  assert.equal(parseServiceAccount(JSON.stringify(good)).uid, 'sa');
  assert.throws(() => parseServiceAccount('{'), /not JSON/);
  assert.throws(() => parseServiceAccount(JSON.stringify({ ...good, uid: '' })), /uid:/);
  assert.throws(
    () => parseServiceAccount(JSON.stringify({ ...good, private_key: 'x' })),
    /private_key: must be a PEM private key/,
  );
  assert.throws(
    () => parseServiceAccount(JSON.stringify({ ...good, login_endpoint: 'ftp://x/' })),
    /login_endpoint: must be an http\(s\) URL/,
  );
  assert.throws(() => parseServiceAccount(JSON.stringify({ ...good, scheme: 'HS256' })), /scheme/);
});

test('credentials files: basic or a service account; anything else named', async () => {
  const dir = await tempDir('creds');
  const file = join(dir, 'c.json');
  await writeFile(file, JSON.stringify({ basic: { principal: 'p', secret: 's' } }));
  assert.equal((await loadCredentials(file)).describe, 'basic auth as p');
  await writeFile(file, JSON.stringify({ basic: { principal: 'p' } }));
  await assert.rejects(loadCredentials(file), /basic\.secret/);
  await writeFile(file, JSON.stringify({ uid: 'sa' }));
  await assert.rejects(loadCredentials(file), /private_key/);
  await assert.rejects(loadCredentials(join(dir, 'missing.json')), /missing\.json/);
});
