// The embedded store: the shared contract (in memory and on disk), then what only a durable
// log has to get right: recovery, torn tails, refusing damage, compaction, the directory lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile, appendFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { EmbeddedStore, StoreError } from '../../src/store/index.js';
import { storeContract } from '../helpers/store-contract.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'dcnet-test-store-'));
  dirs.push(d);
  return d;
}
test.after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

storeContract('embedded (memory)', () => EmbeddedStore.open({ leaseCheckMs: 50 }));
storeContract('embedded (disk)', async () =>
  EmbeddedStore.open({ dataDir: await tempDir(), leaseCheckMs: 50 }),
);

test('everything acknowledged survives a reopen, with the same revisions and leases', async () => {
  const dir = await tempDir();
  let s = await EmbeddedStore.open({ dataDir: dir });
  await Promise.all(Array.from({ length: 100 }, (_, i) => s.put(`k/${String(i).padStart(3, '0')}`, `v${i}`)));
  const lease = await s.grantLease(60);
  await s.put('leased', 'x', { lease });
  await s.delete('k/050');
  const before = await s.range('');
  await s.close();
  s = await EmbeddedStore.open({ dataDir: dir });
  assert.deepEqual(await s.range(''), before);
  assert.equal(s.recovery.replayedRecords, 103);
  assert.equal(await s.keepAlive(lease), 60);
  await s.close();
});

test('concurrent writes share fsyncs (group commit)', async () => {
  const s = await EmbeddedStore.open({ dataDir: await tempDir() });
  await Promise.all(Array.from({ length: 200 }, (_, i) => s.put(`g/${i}`, 'x')));
  const { batches, records } = s.stats();
  assert.equal(records, 200);
  assert.ok(batches < 20, `200 concurrent writes took ${batches} fsync'd batches`);
  await s.close();
});

test('a write resolves only once its record is in the log file', async () => {
  const dir = await tempDir();
  const s = await EmbeddedStore.open({ dataDir: dir });
  const wal = join(dir, 'wal.log');
  const seen = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      s.put(`durable/${i}`, 'x').then(() => readFileSync(wal, 'utf8').includes(`"durable/${i}"`)),
    ),
  );
  assert.deepEqual(seen, Array(50).fill(true));
  await s.close();
});

test('a torn record at the end of the log (crash mid-write) is cut; the rest recovers', async () => {
  const dir = await tempDir();
  let s = await EmbeddedStore.open({ dataDir: dir });
  await s.put('a', '1');
  await s.put('b', '2');
  await s.close();
  await appendFile(join(dir, 'wal.log'), '1234abcd {"s":3,"r":3,"ops":[{"p":"c","v');
  s = await EmbeddedStore.open({ dataDir: dir });
  assert.ok(s.recovery.tornBytes > 0);
  assert.deepEqual(
    (await s.range('')).kvs.map((kv) => kv.key),
    ['a', 'b'],
  );
  await s.put('c', '3');
  await s.close();
  s = await EmbeddedStore.open({ dataDir: dir });
  assert.equal((await s.get('c'))?.value, '3');
  assert.equal(s.recovery.tornBytes, 0);
  await s.close();
});

test('damage in the middle of the log is refused, not silently skipped', async () => {
  const dir = await tempDir();
  const s = await EmbeddedStore.open({ dataDir: dir });
  await s.put('a', '1');
  await s.put('b', '2');
  await s.put('c', '3');
  await s.close();
  const wal = join(dir, 'wal.log');
  const lines = (await readFile(wal, 'utf8')).split('\n');
  lines[1] = lines[1]!.replace('"2"', '"X"');
  await writeFile(wal, lines.join('\n'));
  await assert.rejects(EmbeddedStore.open({ dataDir: dir }), (e: unknown) => {
    assert.ok(e instanceof StoreError);
    assert.equal(e.code, 'corrupt');
    assert.match(e.message, /wal\.log: damaged record at byte \d+ followed by valid records/);
    return true;
  });
});

test('compaction writes a snapshot, empties the log, and recovers the same state', async () => {
  const dir = await tempDir();
  let s = await EmbeddedStore.open({ dataDir: dir, compactBytes: 2000 });
  for (let i = 0; i < 100; i++) await s.put(`k/${i % 10}`, `value ${i}`);
  await s.compact();
  const walSize = (await stat(join(dir, 'wal.log'))).size;
  assert.ok(walSize < 2000, `log was compacted (${walSize} bytes)`);
  await s.put('after', 'snapshot');
  const before = await s.range('');
  await s.close();
  s = await EmbeddedStore.open({ dataDir: dir });
  assert.deepEqual(await s.range(''), before);
  assert.ok(s.recovery.snapshotRevision > 0);
  await s.close();
});

test('a damaged snapshot is refused', async () => {
  const dir = await tempDir();
  const s = await EmbeddedStore.open({ dataDir: dir });
  await s.put('a', '1');
  await s.compact();
  await s.close();
  const snap = join(dir, 'snapshot.json');
  await writeFile(snap, (await readFile(snap, 'utf8')).replace('"1"', '"2"'));
  await assert.rejects(EmbeddedStore.open({ dataDir: dir }), /snapshot\.json: checksum mismatch/);
});

test('one store per data directory: a second open is refused while the first holds the lock', async () => {
  const dir = await tempDir();
  const s = await EmbeddedStore.open({ dataDir: dir });
  // The lock is the kernel's, per open file: even this same process cannot take it twice.
  await assert.rejects(
    EmbeddedStore.open({ dataDir: dir }),
    new RegExp(`data directory ${dir} is in use by another process \\(pid ${process.pid}\\)`),
  );
  await s.close();
  const again = await EmbeddedStore.open({ dataDir: dir });
  await again.close();
});

test('a LOCK file naming a live process but held by nobody does not block (no PID is trusted)', async () => {
  const dir = await tempDir();
  // What a reboot leaves behind when the old PID now belongs to someone else (PID 1 is alive).
  await writeFile(join(dir, 'LOCK'), '1\n');
  const s = await EmbeddedStore.open({ dataDir: dir });
  assert.equal((await readFile(join(dir, 'LOCK'), 'utf8')).trim(), String(process.pid));
  await s.close();
});

test('a data directory keeps its cluster and member ID; another directory has its own', async () => {
  const dir = await tempDir();
  let s = await EmbeddedStore.open({ dataDir: dir });
  const first = s.identity;
  assert.match(first.clusterId, /^[0-9a-f]{16}$/);
  assert.match(first.memberId, /^[0-9a-f]{16}$/);
  assert.equal(s.recovery.identityCreated, true);
  await s.put('a', '1');
  await s.close();
  s = await EmbeddedStore.open({ dataDir: dir });
  assert.deepEqual(s.identity, first);
  assert.equal(s.recovery.identityCreated, false);
  await s.close();
  const other = await EmbeddedStore.open({ dataDir: await tempDir() });
  assert.notEqual(other.identity.clusterId, first.clusterId);
  await other.close();
  await writeFile(join(dir, 'ID'), '{"clusterId":"nope"}\n');
  await assert.rejects(EmbeddedStore.open({ dataDir: dir }), /ID: not a store identity/);
});

test('a watch from a revision older than the kept history is told it was compacted', async () => {
  const s = await EmbeddedStore.open({ historyLimit: 5 });
  for (let i = 0; i < 10; i++) await s.put('h', String(i));
  const err = await new Promise<StoreError>((resolve) => {
    s.watch({
      prefix: 'h',
      fromRevision: 1,
      onEvents: () => assert.fail('no events expected'),
      onError: resolve,
    });
  });
  assert.equal(err.code, 'compacted');
  assert.equal(err.compactRevision, 6);
  await s.close();
});

test('a closed store ends its watches and refuses calls', async () => {
  const s = await EmbeddedStore.open();
  const ended = new Promise<StoreError>((resolve) =>
    s.watch({ prefix: '', onEvents: () => {}, onError: resolve }),
  );
  await s.close();
  assert.equal((await ended).code, 'closed');
  await assert.rejects(s.get('a'), /store is closed/);
});
