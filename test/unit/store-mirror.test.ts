// PrefixMirror: a live local copy of a key prefix that survives an unreachable store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedStore, PrefixMirror, type Store } from '../../src/store/index.js';
import { testLogger } from '../helpers/log.js';
import { eventually } from '../helpers/eventually.js';

test('loads, follows puts and deletes under the prefix only', async () => {
  const store = await EmbeddedStore.open({});
  await store.put('z/a', '1');
  await store.put('other', 'x');
  const seen: Array<string> = [];
  const mirror = new PrefixMirror({
    store,
    prefix: 'z/',
    log: testLogger(),
    onChange: (entries, changed) =>
      seen.push(`${[...entries.keys()].join(',')}|${changed === 'all' ? 'all' : [...changed].join(',')}`),
  });
  try {
    await mirror.start();
    assert.equal(mirror.ready, true);
    assert.deepEqual(seen, ['z/a|all']);
    await store.put('z/b', '2');
    await store.put('other2', 'y');
    await store.delete('z/a');
    await eventually(async () => assert.deepEqual([...mirror.current()], [['z/b', '2']]));
    assert.deepEqual(seen.slice(1), ['z/a,z/b|z/b', 'z/b|z/a']);
  } finally {
    mirror.stop();
    await store.close();
  }
});

test('retries while the store is unreachable, then loads', async () => {
  const store = await EmbeddedStore.open({});
  await store.put('z/k', 'v');
  let failures = 2;
  const flaky: Store = Object.assign(Object.create(store) as Store, {
    range: (prefix: string) => {
      if (failures-- > 0) return Promise.reject(new Error('connection refused'));
      return store.range(prefix);
    },
  });
  const mirror = new PrefixMirror({
    store: flaky,
    prefix: 'z/',
    log: testLogger(),
    retryMs: 20,
    onChange: () => {},
  });
  try {
    await mirror.start();
    assert.equal(failures, -1);
    assert.deepEqual([...mirror.current()], [['z/k', 'v']]);
  } finally {
    mirror.stop();
    await store.close();
  }
});

test('a throwing listener is logged, not fatal', async () => {
  const store = await EmbeddedStore.open({});
  const mirror = new PrefixMirror({
    store,
    prefix: 'z/',
    log: testLogger(),
    onChange: () => {
      throw new Error('boom');
    },
  });
  try {
    await mirror.start();
    await store.put('z/x', '1');
    await eventually(async () => assert.equal(mirror.current().get('z/x'), '1'));
  } finally {
    mirror.stop();
    await store.close();
  }
});
