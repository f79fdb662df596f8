// Control-plane fan-out without kernels: 1,000 watchers (each its own HTTP watch stream, as 1,000
// agents would hold) on a real `dcnet master`'s store; time from a write until all 1,000 have seen
// it, over 20 writes, over TLS with client certificates (the default) and over plain HTTP
// (`--insecure`) in the same run. Peer, same run: 1,000 watchers on an in-process embedded store
// (the same fan-out without HTTP). BENCH_WATCHERS overrides the count.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore, HttpStore } from '../src/store/index.js';
import type { TlsFiles } from '../src/pki/index.js';
import { measureFanout, ROUNDS, WATCHERS } from './lib/fanout.js';
import { percentile } from './lib/http-load.js';
import { round, startDcnetMaster } from './lib/process.js';
import { benchPki } from './lib/tls.js';

/** Fan-out through one master; `watcherTls`: each watcher its own client (own connection). */
async function overHttp(
  dataDir: string,
  args: string[],
  writerTls?: TlsFiles,
  watcherTls?: TlsFiles,
): Promise<number[]> {
  const master = await startDcnetMaster(['--data-dir', dataDir, '--listen', '127.0.0.1:0', ...args]);
  try {
    const writer = new HttpStore(master.value, writerTls ? { tls: writerTls } : {});
    const latencies = await measureFanout(
      writer,
      () => new HttpStore(master.value, watcherTls ? { tls: watcherTls } : {}),
    );
    await writer.close();
    return latencies;
  } finally {
    await master.stop();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'dcnet-bench-fanout-'));
try {
  const pki = await benchPki(dir);
  // The writer publishes other nodes' keys (a master may); watchers read as an agent.
  const writer = await pki.files('master', ['127.0.0.1'], 'bench-writer');
  const watcher = await pki.files('agent', ['192.0.2.1']);
  // Plain and TLS passes alternate (A B A B …); each pass is a fresh master and 1,000 watchers.
  const passes = Number(process.env.BENCH_PASSES ?? 3);
  const plainPasses: number[][] = [];
  const tlsPasses: number[][] = [];
  for (let i = 0; i < passes; i++) {
    plainPasses.push(await overHttp(join(dir, `plain-${i}`), ['--insecure']));
    tlsPasses.push(await overHttp(join(dir, `tls-${i}`), ['--tls-dir', pki.masterDir], writer, watcher));
  }
  const pooled = (xs: number[][]): number[] => xs.flat().sort((a, b) => a - b);
  const plain = pooled(plainPasses);
  const tls = pooled(tlsPasses);
  const passP99 = (xs: number[][]): number[] =>
    xs.map((l) =>
      round(
        percentile(
          [...l].sort((a, b) => a - b),
          99,
        ),
      ),
    );

  const embedded = await EmbeddedStore.open();
  const local = await measureFanout(embedded, () => embedded);
  await embedded.close();

  const p99 = percentile(tls, 99);
  const plainP99 = percentile(plain, 99);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'store-watch-fanout',
      watchers: WATCHERS,
      rounds: ROUNDS,
      transport: 'HTTPS watch streams with client certificates to a dcnet master (embedded store, fsync on)',
      p50_ms: round(percentile(tls, 50)),
      p99_ms: round(p99),
      plain_p50_ms: round(percentile(plain, 50)),
      plain_p99_ms: round(plainP99),
      tls_ratio: round(p99 / plainP99),
      passes,
      tls_pass_p99_ms: passP99(tlsPasses),
      plain_pass_p99_ms: passP99(plainPasses),
      peer: '1,000 watchers on an in-process, memory-only embedded store (no HTTP, no fsync)',
      peer_p50_ms: round(percentile(local, 50)),
      peer_p99_ms: round(percentile(local, 99)),
      ratio: round(p99 / percentile(local, 99)),
      goal: { p99_ms: 1000, tls_ratio: 1.5 },
      met: p99 < 1000 && p99 / plainP99 <= 1.5,
    })}\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
