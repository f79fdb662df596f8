// `dcnet pki` and the TLS flags of the commands that are or talk to a master: certificates made
// from the command line work, and nothing starts on the control plane without TLS unless told to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { tlsClient } from '../../src/pki/index.js';
import { masterFetch, operatorTlsDir, runDcnet, startMaster } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';
import { testPki } from '../helpers/pki.js';

test('dcnet pki init / issue: a CA, then master and operator certificates that work together', async () => {
  const dir = await tempDir('pki-cli');
  const ca = join(dir, 'ca');
  const init = await runDcnet(['pki', 'init', '--dir', ca]);
  assert.equal(init.code, 0, init.stderr);
  const again = await runDcnet(['pki', 'init', '--dir', ca]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /a CA exists already.*--force/);
  const m = await runDcnet([
    'pki',
    'issue',
    '--ca-dir',
    ca,
    '--role',
    'master',
    '--ip',
    '127.0.0.1',
    '--out',
    join(dir, 'm'),
  ]);
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /issued master:127\.0\.0\.1 \(IPs 127\.0\.0\.1\)/);
  const op = await runDcnet([
    'pki',
    'issue',
    '--ca-dir',
    ca,
    '--role',
    'operator',
    '--name',
    'alice',
    '--out',
    join(dir, 'op'),
  ]);
  assert.equal(op.code, 0, op.stderr);
  assert.match(op.stdout, /curl --cacert .*op\/ca\.pem --cert .*op\/cert\.pem --key .*op\/key\.pem/);
  for (const [args, msg] of [
    [['--role', 'root', '--ip', '127.0.0.1'], /--role: "root" is not agent, master or operator/],
    [['--role', 'agent'], /ip: an agent certificate needs the IP/],
    [['--role', 'agent', '--ip', '300.1.1.1'], /ip: "300\.1\.1\.1" is not an IP address/],
  ] as const) {
    const r = await runDcnet(['pki', 'issue', '--ca-dir', ca, ...args, '--out', join(dir, 'x')]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, msg);
  }
  const master = await startMaster(['--data-dir', join(dir, 'data'), '--tls-dir', join(dir, 'm')]);
  try {
    const status = await runDcnet(['status', '--json', '--master', master.url], {
      env: { ...process.env, DCNET_TLS_DIR: join(dir, 'op') },
    });
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { self: { url: string } }).self.url, master.url);
    // The test process's certificates are from another CA: refused.
    const mine = await (await testPki()).files('master', ['127.0.0.1']);
    const stranger = tlsClient({ ...mine, ca: await readFile(join(dir, 'm', 'ca.pem'), 'utf8') });
    try {
      const res = await stranger.fetch(`${master.url}/overlay-master/state`);
      assert.equal(res.status, 401);
      assert.match(await res.text(), /untrusted-certificate/);
    } finally {
      await stranger.close();
    }
    // And the test process does not trust that master.
    await assert.rejects(masterFetch(`${master.url}/overlay-master/state`));
  } finally {
    await master.kill();
  }
});

test('without --tls-dir (or DCNET_TLS_DIR) or --insecure, master, agent and status refuse to start', async () => {
  const env = { ...process.env, DCNET_TLS_DIR: '' };
  for (const args of [
    ['master', '--data-dir', await tempDir('no-tls'), '--listen', '127.0.0.1:0'],
    ['agent', '--master', 'https://127.0.0.1:1', '--ip', '192.0.2.1', '--no-dns'],
    ['status', '--master', 'https://127.0.0.1:1'],
  ]) {
    const r = await runDcnet(args, { env });
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /needs TLS: pass --tls-dir DIR .*dcnet pki init.*or pass --insecure/, args[0]);
  }
});

test('a certificate of the wrong role or for another IP is refused before anything starts', async () => {
  const pki = await testPki();
  const agentDir = await pki.dir('agent', ['192.0.2.1']);
  const wrongRole = await runDcnet([
    'master',
    '--data-dir',
    await tempDir('tls-role'),
    '--listen',
    '127.0.0.1:0',
    '--tls-dir',
    agentDir,
  ]);
  assert.equal(wrongRole.code, 2);
  assert.match(
    wrongRole.stderr,
    /cert\.pem is for agent:192\.0\.2\.1; dcnet master needs a master certificate/,
  );
  const otherIp = await runDcnet([
    'agent',
    '--master',
    'https://127.0.0.1:1',
    '--ip',
    '192.0.2.2',
    '--no-dns',
    '--tls-dir',
    agentDir,
  ]);
  assert.equal(otherIp.code, 2);
  assert.match(otherIp.stderr, /--ip: 192\.0\.2\.2 is not in the certificate \(192\.0\.2\.1\)/);
  const http = await runDcnet([
    'agent',
    '--master',
    'http://127.0.0.1:1',
    '--ip',
    '192.0.2.1',
    '--no-dns',
    '--tls-dir',
    agentDir,
  ]);
  assert.equal(http.code, 2);
  assert.match(http.stderr, /--master: "http:\/\/127\.0\.0\.1:1" is not https:\/\//);
  const both = await runDcnet(['status', '--insecure', '--tls-dir', await operatorTlsDir()]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--insecure and --tls-dir exclude each other/);
  const missing = await runDcnet(['status', '--tls-dir', join(await tempDir('tls-missing'), 'none')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /none\/ca\.pem: missing \(cluster CA certificate\)/);
});

test('--insecure runs plain HTTP and says so in the log', async () => {
  const m = await startMaster(['--data-dir', await tempDir('insecure'), '--insecure']);
  try {
    assert.match(m.url, /^http:\/\//);
    assert.ok(m.logs.some((l) => String(l.msg).includes('--insecure')));
    assert.equal((await fetch(`${m.url}/overlay-master/state`)).status, 200);
  } finally {
    await m.kill();
  }
});
