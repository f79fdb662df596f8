// Control-plane fan-out without kernels: 1,000 watchers (each its own HTTP watch stream, as 1,000
// agents would hold) on a real `dcnet master`'s store; time from a write until all 1,000 have seen
// it, over 20 writes. Peer, same run: 1,000 watchers on an in-process embedded store (the same
// fan-out without HTTP).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore, HttpStore } from '../src/store/index.js';
import { measureFanout, ROUNDS, WATCHERS } from './lib/fanout.js';
import { percentile } from './lib/http-load.js';
import { round, startDcnetMaster } from './lib/process.js';

const dataDir = await mkdtemp(join(tmpdir(), 'dcnet-bench-fanout-'));
try {
  const master = await startDcnetMaster(['--data-dir', dataDir, '--listen', '127.0.0.1:0']);
  const writer = new HttpStore(master.value);
  const http = await measureFanout(writer, () => new HttpStore(master.value));
  await writer.close();
  await master.stop();

  const embedded = await EmbeddedStore.open();
  const local = await measureFanout(embedded, () => embedded);
  await embedded.close();

  const p50 = percentile(http, 50);
  const p99 = percentile(http, 99);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'store-watch-fanout',
      watchers: WATCHERS,
      rounds: ROUNDS,
      transport: 'HTTP watch streams to a dcnet master (embedded store, fsync on)',
      p50_ms: round(p50),
      p99_ms: round(p99),
      peer: '1,000 watchers on an in-process, memory-only embedded store (no HTTP, no fsync)',
      peer_p50_ms: round(percentile(local, 50)),
      peer_p99_ms: round(percentile(local, 99)),
      ratio: round(p99 / percentile(local, 99)),
      goal: { p99_ms: 1000 },
      met: p99 < 1000,
    })}\n`,
  );
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
