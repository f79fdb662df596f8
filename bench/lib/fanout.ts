// Fan-out measurement shared by the store benchmarks: N watchers on a prefix, then writes; the
// latency of a write is the time until the N-th watcher has seen it.
import { HttpStore, type Store, type Watch } from '../../src/store/index.js';

/** BENCH_WATCHERS overrides (a tiny run to check that the benchmark works). */
export const WATCHERS = Number(process.env.BENCH_WATCHERS ?? 1000);
export const ROUNDS = 20;

export async function measureFanout(writer: Store, makeWatcherStore: () => Store): Promise<number[]> {
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
