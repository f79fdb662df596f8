// The Store on a TLS-only etcd started with --client-cert-auth: the contract holds with a master
// certificate from the cluster CA; no certificate, a certificate from another CA, or a plain
// http client are refused by etcd itself.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdStore, parseStoreUrl, StoreError } from '../../src/store/index.js';
import { createCa, issueCertificate } from '../../src/pki/index.js';
import { storeContract } from '../helpers/store-contract.js';
import { startEtcd, type EtcdCluster } from '../../src/sim/index.js';

let etcd: EtcdCluster;
let ca: string;
let master: { cert: string; key: string };
let n = 0;

before(async () => {
  const cluster = await createCa();
  ca = cluster.certPem;
  // etcd's own certificate: a master certificate for 127.0.0.1 serves clients and peers.
  const server = await issueCertificate(cluster, { role: 'master', ips: ['127.0.0.1'] });
  const client = await issueCertificate(cluster, { role: 'master', ips: ['127.0.0.1'], name: 'm1' });
  master = { cert: client.certPem, key: client.keyPem };
  etcd = await startEtcd(3, { tls: { ca, cert: server.certPem, key: server.keyPem } });
});
after(async () => {
  await etcd?.stop();
});

storeContract(
  'etcd over TLS (3 members, client-cert auth)',
  async () => new EtcdStore({ endpoints: etcd.endpoints, prefix: `t${++n}/`, tls: { ca, ...master } }),
);

test('etcds:// URLs ask for TLS', () => {
  assert.deepEqual(parseStoreUrl('etcds://127.0.0.1:2379,127.0.0.2:2379'), {
    endpoints: ['127.0.0.1:2379', '127.0.0.2:2379'],
    tls: true,
  });
  assert.deepEqual(parseStoreUrl('etcd://127.0.0.1:2379'), { endpoints: ['127.0.0.1:2379'], tls: false });
  assert.match(etcd.url, /^etcds:\/\//);
});

const refused = async (store: EtcdStore): Promise<void> => {
  try {
    await assert.rejects(store.put('k', 'v'), (err: unknown) => err instanceof StoreError);
  } finally {
    await store.close();
  }
};

test('etcd refuses a client without a certificate', async () => {
  await refused(new EtcdStore({ endpoints: etcd.endpoints, prefix: 'x/', timeoutMs: 1500, tls: { ca } }));
});

test('etcd refuses a certificate from another CA', async () => {
  const other = await createCa({ name: 'someone else' });
  const cert = await issueCertificate(other, { role: 'master', ips: ['127.0.0.1'] });
  await refused(
    new EtcdStore({
      endpoints: etcd.endpoints,
      prefix: 'x/',
      timeoutMs: 1500,
      tls: { ca, cert: cert.certPem, key: cert.keyPem },
    }),
  );
});

test('etcd refuses plain gRPC on its TLS port', async () => {
  await refused(new EtcdStore({ endpoints: etcd.endpoints, prefix: 'x/', timeoutMs: 1500 }));
});

test('a client that does not trust etcd’s CA does not talk to it', async () => {
  const other = await createCa({ name: 'someone else' });
  await refused(
    new EtcdStore({
      endpoints: etcd.endpoints,
      prefix: 'x/',
      timeoutMs: 1500,
      tls: { ca: other.certPem, ...master },
    }),
  );
});

test('a certificate without its key is refused before connecting', () => {
  assert.throws(
    () => new EtcdStore({ endpoints: etcd.endpoints, tls: { ca, cert: master.cert } }),
    /needs its key/,
  );
});
