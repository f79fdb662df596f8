// 4,000 agents register at once with a real `dcnet master` (embedded store, fsync on): time until
// every allocation is durable and answered, per-request latency, the master's peak RSS, and the
// size and serve time of the 4,000-agent state, over TLS with client certificates (the default)
// and over plain HTTP (`--insecure`) in the same run. Peer, same run and same client: a fastify
// server answering the same requests with a fixed body (the HTTP floor: no allocation, no fsync).
// Plain and TLS runs alternate (A B A B …, BENCH_ROUNDS rounds, default 3) and medians are
// reported. The load generator shares this machine's two cores with the master, so the master's
// own CPU time per registration is reported too: the cost TLS adds on the master itself.
// BENCH_AGENTS overrides the count (a tiny run to check that the benchmark works).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TlsFiles } from '../src/pki/index.js';
import { concurrentPosts, percentile, timedGets, type LoadResult } from './lib/http-load.js';
import { readFileSync } from 'node:fs';
import { peakRssMiB, round, startChild, startDcnetMaster } from './lib/process.js';
import { benchPki } from './lib/tls.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 4000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const here = fileURLToPath(new URL('.', import.meta.url));
const bodies = Array.from({ length: AGENTS }, (_, i) =>
  JSON.stringify({
    ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    mesos_bridge: true,
    docker_bridge: true,
  }),
);

interface MasterRun {
  readonly load: LoadResult;
  readonly state: { medianMs: number; bytes: number };
  readonly rssMiB: number;
  /** The master process's CPU time (user + system, all threads) during the registrations. */
  readonly cpuMs: number;
}

/** CPU time of a process so far (utime + stime from /proc, in ms at USER_HZ 100). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** One master on a fresh data dir: every registration at once, then the state served. */
async function runMaster(dataDir: string, args: string[], tls?: TlsFiles): Promise<MasterRun> {
  const master = await startDcnetMaster(['--data-dir', dataDir, '--listen', '127.0.0.1:0', ...args]);
  try {
    const cpu0 = cpuMsOf(master.proc.pid!);
    const load = await concurrentPosts(`${master.value}/overlay-master/agents`, bodies, tls);
    const cpuMs = cpuMsOf(master.proc.pid!) - cpu0;
    if (load.failures > 0)
      throw new Error(`${load.failures} registrations failed: ${JSON.stringify([...load.statuses])}`);
    const state = await timedGets(`${master.value}/overlay-master/state`, 21, tls);
    return { load, state, rssMiB: peakRssMiB(master.proc.pid!), cpuMs };
  } finally {
    await master.stop();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'dcnet-bench-master-'));
try {
  const pki = await benchPki(dir);
  // A master certificate may register any IP: one certificate stands for 4,000 agents' (each
  // connection still does its own full handshake and verification).
  const client = await pki.files('master', ['127.0.0.1'], 'bench-client');

  // Peer first: the HTTP floor for the same concurrent POSTs.
  const sample = '{"ip":"10.0.0.1","overlays":[' + 'x'.repeat(800) + ']}';
  let peer = await startChild(
    process.execPath,
    [join(here, 'peers', 'http-static.js'), sample, '0'],
    (l) => /^listening (\S+)/.exec(l)?.[1],
  );
  const peerLoad = await concurrentPosts(`${peer.value}/overlay-master/agents`, bodies);
  await peer.stop();

  const plainRuns: MasterRun[] = [];
  const tlsRuns: MasterRun[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    plainRuns.push(await runMaster(join(dir, `plain-${r}`), ['--insecure']));
    tlsRuns.push(await runMaster(join(dir, `tls-${r}`), ['--tls-dir', pki.masterDir], client));
  }
  // The run with the median total stands for each side; the ratio is of the medians.
  const byTotal = (runs: MasterRun[]): MasterRun =>
    [...runs].sort((a, b) => a.load.totalMs - b.load.totalMs)[(runs.length - 1) >> 1]!;
  const plain = byTotal(plainRuns);
  const tls = byTotal(tlsRuns);
  const tlsCpu = median(tlsRuns.map((x) => x.cpuMs));
  const plainCpu = median(plainRuns.map((x) => x.cpuMs));

  peer = await startChild(
    process.execPath,
    [join(here, 'peers', 'http-static.js'), '{}', String(tls.state.bytes)],
    (l) => /^listening (\S+)/.exec(l)?.[1],
  );
  const peerState = await timedGets(`${peer.value}/state`, 21);
  await peer.stop();

  const p99 = percentile(tls.load.latenciesMs, 99);
  const tlsRatio = tls.load.totalMs / plain.load.totalMs;
  const line = {
    bench: 'overlay-master-registration',
    agents: AGENTS,
    connections: AGENTS,
    store: 'embedded, fdatasync per batch',
    transport: 'TLS 1.3, client certificates (ECDSA P-256), a full handshake per connection',
    total_ms: round(tls.load.totalMs),
    registrations_per_s: Math.round((AGENTS / tls.load.totalMs) * 1000),
    p50_ms: round(percentile(tls.load.latenciesMs, 50)),
    p99_ms: round(p99),
    peak_rss_mib: round(tls.rssMiB, 1),
    state_bytes: tls.state.bytes,
    state_serve_ms: round(tls.state.medianMs),
    plain_total_ms: round(plain.load.totalMs),
    plain_p99_ms: round(percentile(plain.load.latenciesMs, 99)),
    plain_peak_rss_mib: round(plain.rssMiB, 1),
    plain_state_serve_ms: round(plain.state.medianMs),
    tls_ratio: round(tlsRatio),
    rounds: ROUNDS,
    tls_runs_ms: tlsRuns.map((x) => round(x.load.totalMs, 0)),
    plain_runs_ms: plainRuns.map((x) => round(x.load.totalMs, 0)),
    master_cpu_ms_per_registration: round(tlsCpu / AGENTS, 3),
    plain_master_cpu_ms_per_registration: round(plainCpu / AGENTS, 3),
    master_cpu_ratio: round(tlsCpu / plainCpu),
    peer: 'fastify answering a fixed body over plain HTTP (HTTP floor: no allocation, no durability)',
    peer_total_ms: round(peerLoad.totalMs),
    peer_p99_ms: round(percentile(peerLoad.latenciesMs, 99)),
    ratio: round(tls.load.totalMs / peerLoad.totalMs),
    peer_state_serve_ms: round(peerState.medianMs),
    state_ratio: round(tls.state.medianMs / peerState.medianMs),
    goal: { total_ms: 4000, p99_ms: 1000, state_serve_ms: 50, tls_ratio: 1.5 },
    met: tls.load.totalMs < 4000 && p99 < 1000 && tls.state.medianMs < 50 && tlsRatio <= 1.5,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
