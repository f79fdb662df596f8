// The Store contract on a real etcd, one member and three: the same cases the embedded backend
// passes. Each case works under its own key prefix of the shared etcd.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdStore, parseEtcdUrl } from '../../src/store/index.js';
import { storeContract } from '../helpers/store-contract.js';
import { startEtcd, type EtcdCluster } from '../../src/sim/index.js';

let one: EtcdCluster;
let three: EtcdCluster;
let n = 0;

before(async () => {
  [one, three] = await Promise.all([startEtcd(1), startEtcd(3)]);
});
after(async () => {
  await Promise.all([one?.stop(), three?.stop()]);
});

storeContract('etcd (1 member)', async () => new EtcdStore({ endpoints: one.endpoints, prefix: `t${++n}/` }));
storeContract(
  'etcd (3 members)',
  async () => new EtcdStore({ endpoints: three.endpoints, prefix: `t${++n}/` }),
);

test('etcd URLs', () => {
  assert.deepEqual(parseEtcdUrl('etcd://10.0.0.1:2379,10.0.0.2:2379'), ['10.0.0.1:2379', '10.0.0.2:2379']);
  assert.throws(() => parseEtcdUrl('http://10.0.0.1:2379'), /is not etcd:\/\/HOST:PORT/);
  assert.throws(() => parseEtcdUrl('etcd://10.0.0.1'), /is not etcd:\/\/HOST:PORT/);
});

test('etcd: losing one of three members changes nothing visible', async () => {
  const s = new EtcdStore({ endpoints: three.endpoints, prefix: `t${++n}/` });
  try {
    await s.put('k', 'before');
    await three.kill('m1');
    assert.equal((await s.get('k'))?.value, 'before');
    await s.put('k', 'after');
    assert.equal((await s.get('k'))?.value, 'after');
    await three.restart('m1');
  } finally {
    await s.close();
  }
});

test('etcd: a watch from a compacted revision is reported as compacted', async () => {
  const s = new EtcdStore({ endpoints: one.endpoints, prefix: `t${++n}/` });
  try {
    const first = await s.put('c', '1');
    const last = await s.put('c', '2');
    await s.etcd.kv.compact({ revision: last, physical: true });
    const err = await new Promise<Error & { code?: string }>((resolve) =>
      s.watch({ prefix: 'c', fromRevision: first, onEvents: () => {}, onError: resolve }),
    );
    assert.equal(err.code, 'compacted');
  } finally {
    await s.close();
  }
});
