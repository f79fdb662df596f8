// The Store contract: every backend (embedded, etcd) must pass these. `open` gives a fresh store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError, type Store, type Watch, type WatchEvent } from '../../src/store/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects watch events; `next(n)` waits until n more have arrived. */
function collector() {
  const events: { ev: WatchEvent; rev: number }[] = [];
  const errors: StoreError[] = [];
  let wake: (() => void) | undefined;
  return {
    events,
    errors,
    onEvents: (evs: readonly WatchEvent[], rev: number) => {
      for (const ev of evs) events.push({ ev, rev });
      wake?.();
    },
    onError: (err: StoreError) => {
      errors.push(err);
      wake?.();
    },
    async until(pred: () => boolean, ms = 5000) {
      const deadline = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > deadline) assert.fail('timed out waiting for watch events');
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
    },
  };
}

export function storeContract(name: string, open: () => Promise<Store>): void {
  const withStore = (title: string, fn: (s: Store) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const store = await open();
      // Every watch a test opens is closed, also when it fails: an open remote watch would keep
      // the test process alive.
      const watches: Watch[] = [];
      const watch = store.watch.bind(store);
      store.watch = (o) => {
        const w = watch(o);
        watches.push(w);
        return w;
      };
      try {
        await fn(store);
      } finally {
        for (const w of watches) w.close();
        await store.close();
      }
    });

  withStore('put/get: revisions, versions, create and mod revisions', async (s) => {
    const r1 = await s.put('a/1', 'x');
    const r2 = await s.put('a/1', 'y');
    assert.ok(r2 > r1);
    const kv = await s.get('a/1');
    assert.equal(kv?.value, 'y');
    assert.equal(kv?.version, 2);
    assert.equal(kv?.createRevision, r1);
    assert.equal(kv?.modRevision, r2);
    assert.equal(await s.get('a/missing'), undefined);
  });

  withStore('range returns the prefix in key order at one revision', async (s) => {
    await s.put('p/b', '2');
    await s.put('p/a', '1');
    await s.put('q/a', 'other');
    const r = await s.range('p/');
    assert.deepEqual(
      r.kvs.map((kv) => [kv.key, kv.value]),
      [
        ['p/a', '1'],
        ['p/b', '2'],
      ],
    );
    assert.ok(r.revision >= r.kvs[1]!.modRevision);
  });

  withStore('delete removes a key and reports whether it existed', async (s) => {
    await s.put('d/1', 'x');
    assert.equal((await s.delete('d/1')).deleted, true);
    assert.equal(await s.get('d/1'), undefined);
    assert.equal((await s.delete('d/1')).deleted, false);
  });

  withStore('txn compare-and-set: create-if-absent and modRevision guards', async (s) => {
    const create = { key: 'c/1', target: 'createRevision' as const, result: 'equal' as const, value: 0 };
    const first = await s.txn({ compare: [create], success: [{ type: 'put', key: 'c/1', value: 'one' }] });
    assert.equal(first.succeeded, true);
    const second = await s.txn({
      compare: [create],
      success: [{ type: 'put', key: 'c/1', value: 'two' }],
      failure: [{ type: 'put', key: 'c/conflict', value: 'yes' }],
    });
    assert.equal(second.succeeded, false);
    assert.equal((await s.get('c/1'))?.value, 'one');
    assert.equal((await s.get('c/conflict'))?.value, 'yes');
    const mod = (await s.get('c/1'))!.modRevision;
    const stale = await s.txn({
      compare: [{ key: 'c/1', target: 'modRevision', result: 'equal', value: mod - 1 }],
      success: [{ type: 'put', key: 'c/1', value: 'stale' }],
    });
    assert.equal(stale.succeeded, false);
    const fresh = await s.txn({
      compare: [{ key: 'c/1', target: 'value', result: 'equal', value: 'one' }],
      success: [
        { type: 'put', key: 'c/1', value: 'three' },
        { type: 'put', key: 'c/2', value: 'same revision' },
      ],
    });
    assert.equal(fresh.succeeded, true);
    assert.equal((await s.get('c/1'))!.modRevision, (await s.get('c/2'))!.modRevision);
  });

  withStore('concurrent CAS on one key: exactly one wins', async (s) => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        s.txn({
          compare: [{ key: 'race', target: 'version', result: 'equal', value: 0 }],
          success: [{ type: 'put', key: 'race', value: String(i) }],
        }),
      ),
    );
    assert.equal(results.filter((r) => r.succeeded).length, 1);
  });

  withStore('watch delivers puts and deletes of its prefix in revision order', async (s) => {
    const c = collector();
    // From an explicit revision: a remote store registers a watch asynchronously, so "from now"
    // could miss a put that overtakes the registration (dcnet's own watches always pass one).
    const from = (await s.range('w/')).revision + 1;
    const w = s.watch({ prefix: 'w/', fromRevision: from, onEvents: c.onEvents, onError: c.onError });
    await s.put('w/1', 'a');
    await s.put('other', 'ignored');
    await s.put('w/1', 'b');
    await s.delete('w/1');
    await c.until(() => c.events.length >= 3);
    w.close();
    assert.deepEqual(
      c.events.map((e) => [e.ev.type, e.ev.kv.key, e.ev.kv.value]),
      [
        ['put', 'w/1', 'a'],
        ['put', 'w/1', 'b'],
        ['delete', 'w/1', ''],
      ],
    );
    const revs = c.events.map((e) => e.rev);
    assert.deepEqual(
      revs,
      [...revs].sort((a, b) => a - b),
    );
    assert.equal(c.events[1]!.ev.prevKv?.value, 'a');
  });

  withStore('watch resumes from an earlier revision', async (s) => {
    const r1 = await s.put('h/1', 'a');
    await s.put('h/2', 'b');
    const c = collector();
    const w = s.watch({ prefix: 'h/', fromRevision: r1, onEvents: c.onEvents, onError: c.onError });
    await s.put('h/3', 'c');
    await c.until(() => c.events.length >= 3);
    w.close();
    assert.deepEqual(
      c.events.map((e) => e.ev.kv.key),
      ['h/1', 'h/2', 'h/3'],
    );
  });

  withStore('a closed watch receives nothing more', async (s) => {
    const c = collector();
    const w = s.watch({ prefix: 'x/', onEvents: c.onEvents });
    w.close();
    await s.put('x/1', 'a');
    await sleep(100);
    assert.equal(c.events.length, 0);
  });

  withStore('leases: attached keys vanish on revoke and on expiry; keepAlive extends', async (s) => {
    const lease = await s.grantLease(1);
    await s.put('l/1', 'a', { lease });
    assert.equal((await s.get('l/1'))?.lease, lease);
    await s.revokeLease(lease);
    assert.equal(await s.get('l/1'), undefined);
    await assert.rejects(
      s.keepAlive(lease),
      (e: unknown) => e instanceof StoreError && e.code === 'lease-not-found',
    );

    const kept = await s.grantLease(1);
    const dropped = await s.grantLease(1);
    await s.put('l/kept', 'k', { lease: kept });
    await s.put('l/dropped', 'd', { lease: dropped });
    const c = collector();
    const w = s.watch({ prefix: 'l/', onEvents: c.onEvents });
    for (let i = 0; i < 6; i++) {
      await sleep(400);
      await s.keepAlive(kept);
    }
    await c.until(() => c.events.some((e) => e.ev.type === 'delete'));
    w.close();
    assert.equal(await s.get('l/dropped'), undefined);
    assert.equal((await s.get('l/kept'))?.value, 'k');
    assert.deepEqual(
      c.events.map((e) => [e.ev.type, e.ev.kv.key]),
      [['delete', 'l/dropped']],
    );
    await assert.rejects(
      s.put('l/x', 'y', { lease: dropped }),
      (e: unknown) => e instanceof StoreError && e.code === 'lease-not-found',
    );
  });
}
