// `dcnet master --mesos`: the real master process polls a fake Mesos master on loopback, derives
// the VIP table and publishes it into its store (one key per VIP, only what changed); invalid
// labels are logged by name and kept under l4lb/errors (IP VIPs on cluster addresses among them);
// a Mesos outage changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
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
  // A tenant's IP VIPs on an agent's address, the master's, an overlay gateway, loopback and a
  // DNS address are refused by name; its VIP inside the configured ranges works.
  const attacks = [
    '10.0.0.2:80',
    '127.0.0.1:5050',
    '9.0.1.1:80',
    '198.51.100.1:53',
    '198.51.100.2:53',
    '198.51.100.3:53',
    '192.0.2.99:80',
    '11.9.9.9:80',
  ];
  doc.frameworks[0]!.tasks.push({
    id: 'evil.1',
    name: 'evil',
    framework_id: 'F0',
    slave_id: 'S1',
    state: 'TASK_RUNNING',
    statuses: [{ state: 'TASK_RUNNING', timestamp: 9 }],
    discovery: {
      name: 'evil',
      ports: {
        ports: [
          {
            number: 31500,
            protocol: 'tcp',
            labels: { labels: attacks.map((value, i) => ({ key: `VIP_${i}`, value })) },
          },
        ],
      },
    },
  } as never);
  body = JSON.stringify(doc);
  const dataDir = await tempDir('l4lb-master');
  const configFile = join(dataDir, 'config.yaml');
  // The operator allows 192.0.2.0/24 too; addresses the cluster uses stay forbidden anyway.
  await writeFile(configFile, 'dcos_l4lb_ip_vip_ranges: ["192.0.2.0/24"]\n');
  const master = await startMaster([
    '--data-dir',
    dataDir,
    '--config',
    configFile,
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
      assert.equal(t.vips.length, 10);
      return t;
    }, 10_000);
    assert.ok(first.vips.some((v) => v.name?.label === '/web' && v.family === 6));
    assert.ok(first.vips.some((v) => v.ip === '11.9.9.9' && v.backends[0]?.task === 'evil.1'));
    assert.ok(
      first.vips.some((v) => v.ip === '192.0.2.99'),
      'inside the configured extra range',
    );
    const errors = JSON.parse((await store.get(L4LB_ERRORS_KEY))!.value) as {
      code: string;
      task: string;
      label: string;
      message: string;
    }[];
    assert.deepEqual(
      errors
        .filter((e) => e.task !== 'evil.1')
        .map((e) => e.code)
        .sort(),
      ['VIP_BAD_PORT', 'VIP_BAD_PROTOCOL', 'VIP_NAME_UNUSABLE', 'VIP_NO_PORT', 'VIP_NO_SUCH_PORT'],
    );
    assert.deepEqual(
      errors.filter((e) => e.task === 'evil.1').map((e) => [e.label, e.code, e.message]),
      [
        [
          'VIP_0',
          'VIP_ADDRESS_FORBIDDEN',
          '10.0.0.2 is the address of agent S1 (10.0.0.2); a VIP may not take it',
        ],
        [
          'VIP_1',
          'VIP_ADDRESS_FORBIDDEN',
          '127.0.0.1 is the address of the leading Mesos master; a VIP may not take it',
        ],
        [
          'VIP_2',
          'VIP_ADDRESS_FORBIDDEN',
          '9.0.1.1 is inside overlay dcos (9.0.0.0/8: containers and their gateways); a VIP may not take it',
        ],
        ['VIP_3', 'VIP_ADDRESS_FORBIDDEN', '198.51.100.1 is a DC/OS DNS address; a VIP may not take it'],
        ['VIP_4', 'VIP_ADDRESS_FORBIDDEN', '198.51.100.2 is a DC/OS DNS address; a VIP may not take it'],
        ['VIP_5', 'VIP_ADDRESS_FORBIDDEN', '198.51.100.3 is a DC/OS DNS address; a VIP may not take it'],
      ],
    );
    const refused = await waitForLog(
      master,
      (l) => l.code === 'VIP_ADDRESS_FORBIDDEN' && l.label === 'VIP_0',
    );
    assert.equal(refused.task, 'evil.1');
    const logged = await waitForLog(master, (l) => l.code === 'VIP_NO_PORT');
    assert.equal(logged.task, 'bad.1');
    assert.match(String(logged.msg), /invalid VIP label/);

    // Only the changed VIPs are written: the web tasks go, the other VIPs keep their revisions.
    const before = new Map((await store.range(VIPS_PREFIX)).kvs.map((kv) => [kv.key, kv.modRevision]));
    doc.frameworks[0]!.tasks = doc.frameworks[0]!.tasks.filter((t) => !t.id.startsWith('web.'));
    body = JSON.stringify(doc);
    const after = await eventually(async () => {
      const kvs = (await store.range(VIPS_PREFIX)).kvs;
      assert.equal(kvs.length, 8);
      return kvs;
    }, 10_000);
    for (const kv of after) assert.equal(kv.modRevision, before.get(kv.key), `${kv.key} untouched`);

    // Mesos away: the published table stays as it was.
    await new Promise<void>((r) => mesos.close(() => r()));
    mesos.closeAllConnections();
    await waitForLog(master, (l) => String(l.msg).includes('no Mesos master answered'), 10_000);
    assert.equal((await store.range(VIPS_PREFIX)).kvs.length, 8);
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
