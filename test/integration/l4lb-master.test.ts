// `dcnet master --mesos`: the real master process polls a fake Mesos master on loopback, derives
// the VIP table and publishes it into its store (one key per VIP, only what changed); invalid
// labels are logged by name and kept under l4lb/errors; a Mesos outage changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpStore } from '../../src/store/index.js';
import { L4LB_ERRORS_KEY, VIPS_PREFIX, vipTableFromKvs } from '../../src/l4lb/index.js';
import { fixture } from '../helpers/fixtures.js';
import { eventually } from '../helpers/eventually.js';
import { masterTls, runDcnet, startMaster, waitForLog } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';

test('the master publishes the VIP table from Mesos state, per VIP, and keeps it through an outage', async () => {
  const doc = JSON.parse(fixture('l4lb/state.json')) as {
    leader: string;
    frameworks: { tasks: { id: string }[] }[];
  };
  let body = '';
  const mesos = createServer((req, res) => {
    if (req.url !== '/master/state') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => mesos.listen(0, '127.0.0.1', () => r()));
  const port = (mesos.address() as AddressInfo).port;
  doc.leader = `master@127.0.0.1:${port}`;
  body = JSON.stringify(doc);
  const master = await startMaster([
    '--data-dir',
    await tempDir('l4lb-master'),
    '--mesos',
    `127.0.0.1:${port}`,
    '--mesos-refresh',
    '0.1',
  ]);
  const store = new HttpStore(master.url, { tls: await masterTls() });
  try {
    const table = async () => vipTableFromKvs((await store.range(VIPS_PREFIX)).kvs).table;
    const first = await eventually(async () => {
      const t = await table();
      assert.equal(t.vips.length, 8);
      return t;
    }, 10_000);
    assert.ok(first.vips.some((v) => v.name?.label === '/web' && v.family === 6));
    const errors = JSON.parse((await store.get(L4LB_ERRORS_KEY))!.value) as { code: string }[];
    assert.deepEqual(errors.map((e) => e.code).sort(), [
      'VIP_BAD_PORT',
      'VIP_BAD_PROTOCOL',
      'VIP_NAME_UNUSABLE',
      'VIP_NO_PORT',
      'VIP_NO_SUCH_PORT',
    ]);
    const logged = await waitForLog(master, (l) => l.code === 'VIP_NO_PORT');
    assert.equal(logged.task, 'bad.1');
    assert.match(String(logged.msg), /invalid VIP label/);

    // Only the changed VIPs are written: the web tasks go, the other VIPs keep their revisions.
    const before = new Map((await store.range(VIPS_PREFIX)).kvs.map((kv) => [kv.key, kv.modRevision]));
    doc.frameworks[0]!.tasks = doc.frameworks[0]!.tasks.filter((t) => !t.id.startsWith('web.'));
    body = JSON.stringify(doc);
    const after = await eventually(async () => {
      const kvs = (await store.range(VIPS_PREFIX)).kvs;
      assert.equal(kvs.length, 6);
      return kvs;
    }, 10_000);
    for (const kv of after) assert.equal(kv.modRevision, before.get(kv.key), `${kv.key} untouched`);

    // Mesos away: the published table stays as it was.
    await new Promise<void>((r) => mesos.close(() => r()));
    mesos.closeAllConnections();
    await waitForLog(master, (l) => String(l.msg).includes('no Mesos master answered'), 10_000);
    assert.equal((await store.range(VIPS_PREFIX)).kvs.length, 6);
  } finally {
    await store.close();
    await master.kill();
    mesos.close();
  }
});

test('dcnet master: a bad --mesos or --mesos-refresh is a usage error naming the option', async () => {
  const bad = await runDcnet([
    'master',
    '--listen',
    '127.0.0.1:0',
    '--mesos',
    'http://',
    '--data-dir',
    await tempDir('l4lb-usage'),
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--mesos: master "http:\/\/"/);
  const refresh = await runDcnet([
    'master',
    '--listen',
    '127.0.0.1:0',
    '--mesos',
    '127.0.0.1:5050',
    '--mesos-refresh',
    'soon',
  ]);
  assert.equal(refresh.code, 2);
  assert.match(refresh.stderr, /--mesos-refresh: "soon"/);
});
