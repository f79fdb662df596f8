// 4,000 agents register at once with a real `dcnet master` (embedded store, fsync on): time until
// every allocation is durable and answered, per-request latency, the master's peak RSS, and the
// size and serve time of the 4,000-agent state. Peer, same run and same client: a fastify server
// answering the same requests with a fixed body (the HTTP floor: no allocation, no fsync).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { concurrentPosts, percentile, timedGets } from './lib/http-load.js';
import { peakRssMiB, round, startChild, startDcnetMaster } from './lib/process.js';

const AGENTS = 4000;
const here = fileURLToPath(new URL('.', import.meta.url));
const bodies = Array.from({ length: AGENTS }, (_, i) =>
  JSON.stringify({
    ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    mesos_bridge: true,
    docker_bridge: true,
  }),
);

const dataDir = await mkdtemp(join(tmpdir(), 'dcnet-bench-master-'));
try {
  // Peer first: the HTTP floor for the same 4,000 concurrent POSTs.
  const sample = '{"ip":"10.0.0.1","overlays":[' + 'x'.repeat(800) + ']}';
  let peer = await startChild(
    process.execPath,
    [join(here, 'peers', 'http-static.js'), sample, '0'],
    (l) => /^listening (\S+)/.exec(l)?.[1],
  );
  const peerLoad = await concurrentPosts(`${peer.value}/overlay-master/agents`, bodies);
  await peer.stop();

  const master = await startDcnetMaster(['--data-dir', dataDir, '--listen', '127.0.0.1:0']);
  const load = await concurrentPosts(`${master.value}/overlay-master/agents`, bodies);
  if (load.failures > 0)
    throw new Error(`${load.failures} registrations failed: ${JSON.stringify([...load.statuses])}`);
  const state = await timedGets(`${master.value}/overlay-master/state`, 21);
  const rss = peakRssMiB(master.proc.pid!);
  await master.stop();

  peer = await startChild(
    process.execPath,
    [join(here, 'peers', 'http-static.js'), '{}', String(state.bytes)],
    (l) => /^listening (\S+)/.exec(l)?.[1],
  );
  const peerState = await timedGets(`${peer.value}/state`, 21);
  await peer.stop();

  const line = {
    bench: 'overlay-master-registration',
    agents: AGENTS,
    connections: AGENTS,
    store: 'embedded, fdatasync per batch',
    total_ms: round(load.totalMs),
    registrations_per_s: Math.round((AGENTS / load.totalMs) * 1000),
    p50_ms: round(percentile(load.latenciesMs, 50)),
    p99_ms: round(percentile(load.latenciesMs, 99)),
    peak_rss_mib: round(rss, 1),
    state_bytes: state.bytes,
    state_serve_ms: round(state.medianMs),
    peer: 'fastify answering a fixed body (HTTP floor: no allocation, no durability)',
    peer_total_ms: round(peerLoad.totalMs),
    peer_p99_ms: round(percentile(peerLoad.latenciesMs, 99)),
    ratio: round(load.totalMs / peerLoad.totalMs),
    peer_state_serve_ms: round(peerState.medianMs),
    state_ratio: round(state.medianMs / peerState.medianMs),
    goal: { total_ms: 4000, state_serve_ms: 50 },
    met: load.totalMs < 4000 && state.medianMs < 50,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
