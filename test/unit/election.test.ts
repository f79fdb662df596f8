// Leader election on the Store (embedded backend): one leader, followers take over when it steps
// down or its lease expires, and a deposed leader's fence no longer holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedStore, LeaderElection } from '../../src/store/index.js';
import { testLogger } from '../helpers/log.js';

const until = async (pred: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

function candidate(store: EmbeddedStore, name: string, log: string[]): LeaderElection {
  return new LeaderElection({
    store,
    key: 'leader',
    value: name,
    ttlSeconds: 1,
    log: testLogger(),
    onElected: () => void log.push(`${name} elected`),
    onDemoted: (reason) => void log.push(`${name} demoted: ${reason}`),
  });
}

test('one leader; the other follows and takes over when the leader steps down', async () => {
  const store = await EmbeddedStore.open({ leaseCheckMs: 50 });
  const log: string[] = [];
  const a = candidate(store, 'a', log);
  const b = candidate(store, 'b', log);
  a.start();
  await until(() => a.isLeader);
  b.start();
  await until(() => b.leader === 'a');
  assert.equal(b.isLeader, false);
  const fenceA = a.fence();
  assert.equal((await store.txn({ compare: fenceA, success: [] })).succeeded, true);
  await a.stop();
  await until(() => b.isLeader);
  assert.equal(
    (await store.txn({ compare: fenceA, success: [] })).succeeded,
    false,
    "a's fence no longer holds",
  );
  assert.equal((await store.txn({ compare: b.fence(), success: [] })).succeeded, true);
  assert.deepEqual(log, ['a elected', 'b elected']);
  await b.stop();
  await store.close();
});

test('a leader whose key is deleted is demoted and campaigns again', async () => {
  const store = await EmbeddedStore.open({ leaseCheckMs: 50 });
  const log: string[] = [];
  const a = candidate(store, 'a', log);
  a.start();
  await until(() => a.isLeader);
  const before = a.fence();
  await store.delete('leader');
  await until(() => log.some((l) => l.startsWith('a demoted')));
  await until(() => a.isLeader);
  assert.notDeepEqual(a.fence(), before, 'a new term, a new fence');
  await a.stop();
  await store.close();
});

test('a leader cut off from the store steps down by itself before its lease can expire', async () => {
  const store = await EmbeddedStore.open({ leaseCheckMs: 20 });
  const log: string[] = [];
  // The partition: this candidate's calls to the store hang (as to an unreachable etcd), while the
  // store itself, and another master that reaches it, go on.
  let cut = false;
  const hang = new Promise<never>(() => {});
  const cutOff = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => (cut ? hang : (v as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
  const a = new LeaderElection({
    store: cutOff,
    key: 'leader',
    value: 'a',
    ttlSeconds: 2,
    log: testLogger(),
    onElected: () => void log.push('a elected'),
    onDemoted: (reason) => void log.push(`a demoted: ${reason}`),
  });
  a.start();
  await until(() => a.isLeader);
  const leaseOfA = (await store.get('leader'))!.lease;
  const cutAt = Date.now();
  cut = true;
  await until(() => !a.isLeader, 3000);
  const steppedDownAfter = Date.now() - cutAt;
  // Its lease (2 s) still holds the key: nobody else could lead yet, so there is no moment with two.
  assert.equal(
    (await store.get('leader'))?.lease,
    leaseOfA,
    'stepped down while its lease still held the key',
  );
  assert.ok(
    steppedDownAfter < 2000,
    `stepped down after ${steppedDownAfter} ms, before the 2 s lease ran out`,
  );
  assert.match(log.at(-1)!, /a demoted: could not renew the leader lease for 1333 ms/);
  cut = false;
  await a.stop();
  await store.close();
});
