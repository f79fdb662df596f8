// `dcnet master --mesos`: the master polls Mesos and publishes the dcos.thisdcos.directory zone in
// its store, where every agent's resolver finds it; a Mesos outage keeps the last zone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpStore } from '../../src/store/index.js';
import { parseStoredZone, zoneKey } from '../../src/dns/dcos/index.js';
import { masterTls, startMaster, runDcnet } from '../helpers/process.js';
import { eventually } from '../helpers/eventually.js';
import { tempDir } from '../helpers/tmp.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

function mesosState(tasks: Array<{ name: string; ip: string }>, port: number): string {
  return JSON.stringify({
    leader: `master@127.0.0.1:${port}`,
    slaves: [{ id: 'S1', pid: 'slave(1)@10.0.0.1:5051' }],
    frameworks: [
      {
        name: 'marathon',
        tasks: tasks.map((t) => ({
          id: `${t.name}.1`,
          name: t.name,
          slave_id: 'S1',
          state: 'TASK_RUNNING',
          statuses: [
            {
              state: 'TASK_RUNNING',
              timestamp: 1,
              container_status: { network_infos: [{ ip_addresses: [{ ip_address: t.ip }] }] },
            },
          ],
        })),
      },
    ],
  });
}

test('the master publishes the dcos zone from Mesos and keeps it through a Mesos outage', async () => {
  let body = '';
  let up = true;
  const mesos = createServer((req, res) => {
    if (!up) {
      res.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => mesos.listen(0, '127.0.0.1', () => r()));
  const port = (mesos.address() as AddressInfo).port;
  body = mesosState([{ name: 'web', ip: '9.0.1.2' }], port);
  const master = await startMaster([
    '--data-dir',
    await tempDir('dnszones'),
    '--mesos',
    `127.0.0.1:${port}`,
    '--mesos-refresh',
    '0.2',
  ]);
  const store = new HttpStore([master.url], { tls: await masterTls() });
  const zone = async () => {
    const kv = await store.get(zoneKey('dcos.thisdcos.directory'));
    assert.ok(kv, 'zone published');
    return parseStoredZone(kv.value).records;
  };
  try {
    await eventually(async () =>
      assert.deepEqual(
        [...((await zone()).a.get('web.marathon.autoip.dcos.thisdcos.directory.') ?? [])],
        ['9.0.1.2'],
      ),
    );
    assert.deepEqual([...((await zone()).a.get('leader.dcos.thisdcos.directory.') ?? [])], ['127.0.0.1']);
    body = mesosState([{ name: 'api', ip: '9.0.1.3' }], port);
    await eventually(async () => {
      const z = await zone();
      assert.ok(z.a.has('api.marathon.autoip.dcos.thisdcos.directory.'));
      assert.ok(!z.a.has('web.marathon.autoip.dcos.thisdcos.directory.'));
    });
    const before = (await store.get(zoneKey('dcos.thisdcos.directory')))!.modRevision;
    up = false;
    await new Promise((r) => setTimeout(r, 800));
    const kv = await store.get(zoneKey('dcos.thisdcos.directory'));
    assert.equal(kv!.modRevision, before, 'an outage neither withdraws nor rewrites the zone');
    assert.ok(master.logs.some((l) => String(l.msg).includes('keeping old state')));
  } finally {
    await store.close();
    await master.kill();
    mesos.close();
  }
});

test('a malformed --mesos is a usage error naming the option', async () => {
  const r = await runDcnet([
    'master',
    '--data-dir',
    await tempDir('dnszones'),
    '--mesos',
    'http://',
    '--listen',
    '127.0.0.1:0',
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--mesos/);
});

test('a bad --mesos-dns-config stops the master before it starts, naming the field', async () => {
  const dir = await tempDir('dnszones');
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify({ masters: ['127.0.0.1:5050'], ttl: -3 }));
  const r = await runDcnet([
    'master',
    '--data-dir',
    dir,
    '--mesos',
    '127.0.0.1:5050',
    '--mesos-dns-config',
    file,
    '--listen',
    '127.0.0.1:0',
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /ttl|TTL/);
  assert.doesNotMatch(r.stderr, /overlay master listening/);
});
