// Dissemination through etcd: 1,000 watchers (HTTP watch streams, as agents hold them) spread
// over three HA masters on a three-member etcd; a change written to etcd, time until all 1,000
// have seen it, over 20 changes. Peer, same run: the same 1,000 watchers on one master with the
// embedded store.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdStore, HttpStore } from '../src/store/index.js';
import { startEtcd } from '../src/sim/index.js';
import { measureFanout, ROUNDS, WATCHERS } from './lib/fanout.js';
import { percentile } from './lib/http-load.js';
import { round, startDcnetMaster } from './lib/process.js';

const etcd = await startEtcd(3);
const masters = await Promise.all(
  [0, 1, 2].map(() =>
    startDcnetMaster([
      '--store',
      etcd.url,
      '--store-prefix',
      'fanout/',
      '--listen',
      '127.0.0.1:0',
      '--insecure',
    ]),
  ),
);
const dataDir = await mkdtemp(join(tmpdir(), 'dcnet-bench-fanout-'));
try {
  const urls = masters.map((m) => m.value);
  const writer = new EtcdStore({ endpoints: etcd.endpoints, prefix: 'fanout/' });
  let n = 0;
  const viaEtcd = await measureFanout(writer, () => {
    const i = n++ % urls.length;
    return new HttpStore([...urls.slice(i), ...urls.slice(0, i)]);
  });
  await writer.close();
  for (const m of masters) await m.stop();

  const single = await startDcnetMaster(['--data-dir', dataDir, '--listen', '127.0.0.1:0', '--insecure']);
  const w2 = new HttpStore(single.value);
  const embedded = await measureFanout(w2, () => new HttpStore(single.value));
  await w2.close();
  await single.stop();

  const p99 = percentile(viaEtcd, 99);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'etcd-fanout',
      watchers: WATCHERS,
      rounds: ROUNDS,
      transport: 'HTTP watch streams spread over 3 HA masters on a 3-member etcd',
      p50_ms: round(percentile(viaEtcd, 50)),
      p99_ms: round(p99),
      peer: 'the same 1,000 HTTP watchers on one master with the embedded store',
      peer_p50_ms: round(percentile(embedded, 50)),
      peer_p99_ms: round(percentile(embedded, 99)),
      ratio: round(p99 / percentile(embedded, 99)),
      goal: { p99_ms: 1000 },
      met: p99 < 1000,
    })}\n`,
  );
} finally {
  for (const m of masters) await m.stop().catch(() => {});
  await etcd.stop();
  await rm(dataDir, { recursive: true, force: true });
}
