// One master owns an embedded store, and a client holds to one store: two `dcnet master`
// processes with their own data directories behind one --master list are two clusters, and the
// client refuses the second instead of rotating between them. The data-dir lock is the kernel's:
// a SIGKILLed owner's lock is gone at once, and a PID left in LOCK blocks nobody.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HttpStore, StoreError } from '../../src/store/index.js';
import { masterFetch, masterTls, startMaster, waitForLog } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';

const clusterOf = async (m: Awaited<ReturnType<typeof startMaster>>): Promise<string> =>
  String((await waitForLog(m, (l) => l.msg === 'store opened')).clusterId);

test('two embedded masters behind one URL list: the client refuses the second, naming both IDs', async (t) => {
  const m1 = await startMaster(['--data-dir', await tempDir('id-a')]);
  const m2 = await startMaster(['--data-dir', await tempDir('id-b')]);
  const refused: StoreError[] = [];
  const client = new HttpStore([m1.url, m2.url], {
    tls: await masterTls(),
    timeoutMs: 2000,
    onForeignCluster: (e) => refused.push(e),
  });
  t.after(async () => {
    await client.close();
    await m1.kill('SIGKILL');
    await m2.kill('SIGKILL');
  });
  const [c1, c2] = [await clusterOf(m1), await clusterOf(m2)];
  assert.notEqual(c1, c2);
  await client.put('probe/first', '1');
  assert.equal(client.clusterId, c1);

  await m1.kill('SIGKILL');
  await assert.rejects(client.put('probe/second', '1'), (e: StoreError) => e.code === 'unavailable');
  const err = await client.put('probe/second', '1').then(
    () => assert.fail('the second master must be refused'),
    (e: StoreError) => e,
  );
  assert.equal(err.code, 'foreign-cluster');
  assert.ok(err.message.includes(c1) && err.message.includes(c2), err.message);
  assert.equal(refused.length, 1);
  // Nothing reached the second store.
  const res = await masterFetch(`${m2.url}/store/v1/range`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prefix: 'probe/' }),
  });
  assert.deepEqual(((await res.json()) as { kvs: unknown[] }).kvs, []);
});

test('the data-dir lock: a stale PID blocks nobody, a SIGKILLed owner frees it at once, a live one refuses', async (t) => {
  const dir = await tempDir('lock');
  // What a reboot leaves behind: a LOCK naming a PID that is alive again as something else.
  await writeFile(join(dir, 'LOCK'), '1\n');
  const first = await startMaster(['--data-dir', dir]);
  t.after(() => first.kill('SIGKILL'));
  const cluster = await clusterOf(first);

  const second = await startMaster(['--data-dir', dir]).then(
    async (m) => {
      await m.kill('SIGKILL');
      assert.fail('a second master on the same data directory must not start');
    },
    (e: Error) => e,
  );
  assert.match(second.message, new RegExp(`in use by another process \\(pid ${first.proc.pid}\\)`));

  await first.kill('SIGKILL');
  const started = Date.now();
  const third = await startMaster(['--data-dir', dir]);
  t.after(() => third.kill('SIGKILL'));
  assert.equal(await clusterOf(third), cluster, 'the same store: the same cluster ID');
  assert.ok(Date.now() - started < 10_000);
});
