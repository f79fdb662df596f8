// Mesos-DNS record generation for a state of 10,000 and 100,000 tasks (bench/lib/mesos-state.ts):
// time of one full generation (what each refresh does; the /v1/enumerate listing is built on
// demand and reported separately) and the peak memory it adds. Peer, same run and same document: JSON.parse + the zod state reader, the work every
// refresh does before generating. Each size runs in its own process so peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { parseMesosState } from '../src/cluster/index.js';
import { generateRecords } from '../src/dns/mesos/index.js';
import { syntheticMesosState } from './lib/mesos-state.js';

const GOAL_MS = 1500;
const ROUNDS = 5;
const round = (x: number): number => Math.round(x * 10) / 10;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function measure(tasks: number): Record<string, number> {
  const text = JSON.stringify(syntheticMesosState(tasks));
  const peer: number[] = [];
  let state = parseMesosState(JSON.parse(text));
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    state = parseMesosState(JSON.parse(text));
    peer.push(performance.now() - t0);
  }
  const rssBefore = process.memoryUsage().rss;
  const cfg = {
    domain: 'mesos',
    soaMname: 'ns1.mesos.',
    listenerAddrs: ['198.51.100.1'],
    spec: 'rfc1123' as const,
    ipSources: ['netinfo', 'mesos', 'host'],
    masters: ['198.51.100.1:5050', '198.51.100.2:5050', '198.51.100.3:5050'],
  };
  const ours: number[] = [];
  const oursCpu: number[] = [];
  let names = 0;
  let values = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const rs = generateRecords(state, cfg, () => []);
    ours.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    oursCpu.push((c.user + c.system) / 1000);
    names = rs.a.size + rs.aaaa.size + rs.srv.size;
    values = 0;
    for (const m of [rs.a, rs.aaaa, rs.srv]) for (const s of m.values()) values += s.size;
  }
  const peakRss = process.resourceUsage().maxRSS * 1024;
  // The /v1/enumerate listing, built on demand (once per record set) by the service.
  const enumerate: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    generateRecords(state, cfg, () => [], { enumerate: true });
    enumerate.push(performance.now() - t0);
  }
  return {
    tasks,
    state_mb: round(text.length / 1e6),
    generate_ms: round(median(ours)),
    generate_cpu_ms: round(median(oursCpu)),
    with_enumeration_ms: round(median(enumerate)),
    peer_parse_ms: round(median(peer)),
    names,
    values,
    peak_rss_mb: round(peakRss / 1e6),
    generate_peak_extra_mb: round(Math.max(0, peakRss - rssBefore) / 1e6),
  };
}

if (process.argv[2] === 'child') {
  process.stdout.write(`${JSON.stringify(measure(Number(process.argv[3])))}\n`);
} else {
  const run = (tasks: number): Record<string, number> => {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), 'child', String(tasks)], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    if (r.status !== 0) throw new Error(`bench child (${tasks} tasks) failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, number>;
  };
  const small = run(10_000);
  const big = run(100_000);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'mesos-dns-generate',
      what: 'one full record generation (A/AAAA/SRV, what every refresh does) from a parsed /master/state, median of 5 (wall; cpu = all threads incl. GC)',
      tasks_10k: small,
      tasks_100k: big,
      generate_ms: big.generate_ms,
      peer: 'JSON.parse + zod parse of the same state document (median of 5)',
      peer_ms: big.peer_parse_ms,
      ratio: round(big.generate_ms! / big.peer_parse_ms!),
      goal: { tasks: 100_000, generate_ms: GOAL_MS },
      met: big.generate_ms! < GOAL_MS,
      loadavg_1m: round(loadavg()[0]!),
      cpus: cpus().length,
    })}\n`,
  );
}
