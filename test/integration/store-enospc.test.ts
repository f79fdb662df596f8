// A full disk under the embedded store (a small tmpfs): a short write or a write error is fatal.
// Nothing is acknowledged that is not durable, every later call fails, watchers are told, /health
// says so, and a real `dcnet master` exits non-zero; after space is freed the store reopens with
// exactly the acknowledged records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { open, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { EmbeddedStore, StoreError, type WatchEvent } from '../../src/store/index.js';
import { loadConfig } from '../../src/config/index.js';
import { startMasterServer } from '../../src/overlay/index.js';
import { masterFetch, masterTlsDir, startDcnet } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';

const PAGE = 4096;

/** Mounts a tmpfs of `bytes` on a fresh directory and unmounts it when the test ends. */
async function smallDisk(t: { after(fn: () => Promise<void>): void }, bytes: number): Promise<string> {
  const dir = await tempDir('enospc');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'dcnet-test-enospc', dir]);
  t.after(async () => {
    execFileSync('umount', [dir]);
  });
  return dir;
}

/** Fills the disk to the last byte, then frees `freeBytes` of it again. */
async function fill(dir: string, freeBytes: number): Promise<string> {
  const path = join(dir, 'filler');
  const fh = await open(path, 'w');
  const chunk = Buffer.alloc(PAGE, 0x61);
  try {
    for (;;) {
      const { bytesWritten } = await fh.write(chunk, 0, chunk.length);
      if (bytesWritten < chunk.length) break;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await fh.close();
  }
  const { size } = await stat(path);
  await truncate(path, Math.max(0, size - freeBytes));
  return path;
}

test('a batch that does not fit (short write) is refused whole, fatal, and nothing acknowledged is lost', async (t) => {
  const dir = await smallDisk(t, 64 * PAGE);
  const dataDir = join(dir, 'data');
  const fatal: StoreError[] = [];
  let store = await EmbeddedStore.open({ dataDir, onFatal: (err) => fatal.push(err) });
  // Durable records first, while there is room.
  for (let i = 0; i < 5; i++) await store.put(`k/before-${i}`, 'v'.repeat(100));
  const watchErrors: StoreError[] = [];
  const watched: WatchEvent[] = [];
  const watch = store.watch({
    prefix: 'k/',
    onEvents: (events) => watched.push(...events),
    onError: (err) => watchErrors.push(err),
  });
  const filler = await fill(dir, PAGE);

  // Group-committed batches of ~1 KiB records against one free page: the first batch that does
  // not fit is stored only in part by write(2) — a short write.
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => store.put(`k/batch-${i}`, 'x'.repeat(1024))),
  );
  const acknowledged = results.flatMap((r, i) => (r.status === 'fulfilled' ? [`k/batch-${i}`] : []));
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.ok(refused.length > 0, 'the disk filled up');
  for (const r of refused) {
    assert.ok(r.reason instanceof StoreError);
    assert.match(String(r.reason.message), /short write|ENOSPC/);
  }
  assert.equal(fatal.length, 1, 'the owner is told exactly once');
  assert.equal(store.failure?.code, 'io');
  assert.equal(watchErrors.length, 1, 'watchers are told instead of waiting forever');
  const seen = watched.map((e) => e.kv.key).filter((k) => k.startsWith('k/batch-'));
  assert.deepEqual(seen, acknowledged, 'watchers saw exactly the durable writes');
  // From now on nothing is served, not even reads of what is still in memory.
  await assert.rejects(store.get('k/before-0'), (err: unknown) => err instanceof StoreError);
  await assert.rejects(store.put('k/after', 'v'), (err: unknown) => err instanceof StoreError);
  watch.close();
  await store.close();

  // With space again, the store comes back with exactly the acknowledged records.
  await rm(filler);
  store = await EmbeddedStore.open({ dataDir });
  try {
    const keys = (await store.range('k/')).kvs.map((kv) => kv.key).sort();
    assert.deepEqual(keys, [...[0, 1, 2, 3, 4].map((i) => `k/before-${i}`), ...acknowledged].sort());
    assert.equal(store.recovery.tornBytes, 0, 'the refused batch was cut from the log when it failed');
  } finally {
    await store.close();
  }
});

test('the master answers /health 503 once its log failed and stops acknowledging registrations', async (t) => {
  const dir = await smallDisk(t, 64 * PAGE);
  const fatal: Error[] = [];
  let answered: string[] = [];
  const server = await startMasterServer({
    config: await loadConfig(undefined),
    dataDir: join(dir, 'data'),
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    onFatal: (err) => fatal.push(err),
  });
  try {
    const master = server.master()!;
    await master.register({ ip: '192.0.2.1', mesosBridge: true, dockerBridge: true, allocateSubnet: true });
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
    await fill(dir, 0);
    const ips = Array.from({ length: 60 }, (_, i) => `192.0.2.${10 + i}`);
    const outcomes = await Promise.allSettled(
      ips.map((ip) => master.register({ ip, mesosBridge: true, dockerBridge: true, allocateSubnet: true })),
    );
    answered = ips.filter((_, i) => outcomes[i]!.status === 'fulfilled');
    assert.ok(answered.length < ips.length, 'the disk filled up');
    assert.equal(fatal.length, 1, 'the failure is reported once');
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 503);
    const body = (await health.json()) as { status: string; error: string };
    assert.equal(body.status, 'failed');
    assert.match(body.error, /wal\.log/);
  } finally {
    await server.close().catch(() => {});
  }
  // Every answered registration is durable: a new master on the same data dir holds it.
  await rm(join(dir, 'filler'));
  const again = await startMasterServer({
    config: await loadConfig(undefined),
    dataDir: join(dir, 'data'),
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
  });
  try {
    const state = JSON.parse(again.master()!.stateJson()) as { agents?: { ip: string }[] };
    assert.deepEqual((state.agents ?? []).map((a) => a.ip).sort(), ['192.0.2.1', ...answered].sort());
  } finally {
    await again.close();
  }
});

test('dcnet master exits non-zero when its disk fills', async (t) => {
  const dir = await smallDisk(t, 64 * PAGE);
  const m = startDcnet([
    'master',
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    join(dir, 'data'),
    '--tls-dir',
    await masterTlsDir(),
  ]);
  try {
    const deadline = Date.now() + 15_000;
    let url: string | undefined;
    while (!url) {
      url = m.logs.find((l) => l.msg === 'overlay master listening')?.url as string | undefined;
      assert.ok(Date.now() < deadline, `master did not start: ${m.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await fill(dir, 0);
    // Registrations until the log cannot take one more; the master must not survive that.
    for (let i = 0; i < 200 && m.proc.exitCode === null; i++) {
      await masterFetch(`${url}/overlay-master/agents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ip: `192.0.2.${i + 1}` }),
      }).catch(() => undefined);
    }
    const exit = await Promise.race([
      m.exited,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000)),
    ]);
    assert.ok(exit, 'the master exits by itself');
    assert.notEqual(exit.code, 0);
    assert.ok(
      m.logs.some((l) => l.level === 60 && /store failed/.test(String(l.msg))),
      'a fatal log line says why',
    );
  } finally {
    await m.kill('SIGKILL'); // before the unmount
  }
});
