// Control-plane fan-out without kernels: 1,000 watchers (each its own HTTP watch stream, as 1,000
// agents would hold) on a real `dcnet master`'s store; time from a write until all 1,000 have seen
// it, over 20 writes. Peer, same run: 1,000 watchers on an in-process embedded store (the same
// fan-out without HTTP).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddedStore, HttpStore, type Store, type Watch } from '../src/store/index.js';
import { percentile } from './lib/http-load.js';
import { round, startChild } from './lib/process.js';

const WATCHERS = 1000;
const ROUNDS = 20;
const repo = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

async function measure(writer: Store, makeWatcherStore: () => Store): Promise<number[]> {
  const seen = new Map<string, number>();
  const counts = new Map<string, number>();
  const watches: Watch[] = [];
  let connected = 0;
  const stores: Store[] = [];
  for (let i = 0; i < WATCHERS; i++) {
    const s = makeWatcherStore();
    stores.push(s);
    watches.push(
      s.watch({
        prefix: 'overlay/nodes/',
        onConnection: (up) => {
          if (up) connected++;
        },
        onEvents: (events) => {
          const now = performance.now();
          for (const e of events) {
            const n = (counts.get(e.kv.key) ?? 0) + 1;
            counts.set(e.kv.key, n);
            if (n === WATCHERS) seen.set(e.kv.key, now);
          }
        },
      }),
    );
  }
  const isHttp = stores[0] instanceof HttpStore;
  const deadline = Date.now() + 60_000;
  while (isHttp && connected < WATCHERS) {
    if (Date.now() > deadline) throw new Error(`only ${connected} watchers connected`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 500));
  const latencies: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const key = `overlay/nodes/bench-${i}`;
    const t0 = performance.now();
    await writer.put(key, JSON.stringify({ i }));
    while (!seen.has(key)) {
      if (performance.now() - t0 > 30_000)
        throw new Error(`round ${i}: ${counts.get(key) ?? 0}/${WATCHERS} saw it`);
      await new Promise((r) => setImmediate(r));
    }
    latencies.push(seen.get(key)! - t0);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const w of watches) w.close();
  for (const s of stores) if (s !== writer) await s.close();
  return latencies.sort((a, b) => a - b);
}

const dataDir = await mkdtemp(join(tmpdir(), 'dcnet-bench-fanout-'));
try {
  const master = await startChild(
    process.execPath,
    [join(repo, 'bin', 'dcnet'), 'master', '--data-dir', dataDir, '--listen', '127.0.0.1:0'],
    (l) => (l.includes('overlay master listening') ? (JSON.parse(l) as { url: string }).url : undefined),
  );
  const writer = new HttpStore(master.value);
  const http = await measure(writer, () => new HttpStore(master.value));
  await writer.close();
  await master.stop();

  const embedded = await EmbeddedStore.open();
  const local = await measure(embedded, () => embedded);
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
