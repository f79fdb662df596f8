// Mesos-DNS record generation for a state of 10,000 and 100,000 tasks (bench/lib/mesos-state.ts):
// time of one full generation (what each refresh does; the /v1/enumerate listing is built on
// demand and reported separately), the memory the record set keeps and the peak it adds. Peer,
// same run and same document: JSON.parse + the zod state reader, the work every refresh does
// before generating. Every measurement runs in its own process so memory figures are its own.
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseMesosState } from '../src/cluster/index.js';
import { generateRecords } from '../src/dns/mesos/index.js';
import { syntheticMesosState } from './lib/mesos-state.js';

const GOAL_MS = 1500;
const ROUNDS = 5;
const round = (x: number): number => Math.round(x * 10) / 10;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const mb = (bytes: number): number => round(bytes / 1e6);

const cfg = {
  domain: 'mesos',
  soaMname: 'ns1.mesos.',
  listenerAddrs: ['198.51.100.1'],
  spec: 'rfc1123' as const,
  ipSources: ['netinfo', 'mesos', 'host'],
  masters: ['198.51.100.1:5050', '198.51.100.2:5050', '198.51.100.3:5050'],
};

function timed(fn: () => unknown): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

function generation(tasks: number): Record<string, number> {
  const state = parseMesosState(JSON.parse(JSON.stringify(syntheticMesosState(tasks))));
  gc();
  const rss0 = process.memoryUsage().rss;
  const wall: number[] = [];
  const cpu: number[] = [];
  let kept: ReturnType<typeof generateRecords> | undefined;
  let peak = 0;
  for (let i = 0; i < ROUNDS; i++) {
    kept = undefined;
    const t = timed(() => (kept = generateRecords(state, cfg, () => [])));
    wall.push(t.wall);
    cpu.push(t.cpu);
    // Peak RSS of one generation (later rounds add the garbage of earlier ones).
    if (i === 0) peak = process.resourceUsage().maxRSS * 1024;
  }
  let values = 0;
  for (const m of [kept!.a, kept!.aaaa, kept!.srv]) for (const s of m.values()) values += s.size;
  const names = kept!.a.size + kept!.aaaa.size + kept!.srv.size;
  gc();
  const withRecords = process.memoryUsage().heapUsed;
  kept = undefined;
  gc();
  const retained = withRecords - process.memoryUsage().heapUsed;
  const enumerate = [1, 2, 3].map(
    () => timed(() => generateRecords(state, cfg, () => [], { enumerate: true })).wall,
  );
  return {
    tasks,
    generate_ms: round(median(wall)),
    generate_min_ms: round(Math.min(...wall)),
    generate_cpu_ms: round(median(cpu)),
    with_enumeration_ms: round(median(enumerate)),
    names,
    values,
    records_heap_mb: mb(retained),
    generate_peak_extra_rss_mb: mb(Math.max(0, peak - rss0)),
  };
}

function peer(tasks: number): Record<string, number> {
  const text = JSON.stringify(syntheticMesosState(tasks));
  const wall: number[] = [];
  for (let i = 0; i < ROUNDS; i++) wall.push(timed(() => parseMesosState(JSON.parse(text))).wall);
  return { state_mb: mb(text.length), peer_parse_ms: round(median(wall)) };
}

const [mode, n] = [process.argv[2], Number(process.argv[3])];
if (mode === 'gen' || mode === 'peer') {
  process.stdout.write(`${JSON.stringify(mode === 'gen' ? generation(n) : peer(n))}\n`);
} else {
  const child = (m: string, tasks: number): Record<string, number> => {
    const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), m, String(tasks)], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    if (r.status !== 0) throw new Error(`bench child (${m} ${tasks}) failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, number>;
  };
  const load = round(loadavg()[0]!);
  const small = { ...child('gen', 10_000), ...child('peer', 10_000) };
  const big = { ...child('gen', 100_000), ...child('peer', 100_000) };
  process.stdout.write(
    `${JSON.stringify({
      bench: 'mesos-dns-generate',
      what: 'one full record generation (A/AAAA/SRV, what every refresh does) from a parsed /master/state; median of 5 (wall), min, cpu of all threads incl. GC',
      tasks_10k: small,
      tasks_100k: big,
      generate_ms: big.generate_ms,
      peer: 'JSON.parse + zod parse of the same state document (median of 5)',
      peer_ms: big.peer_parse_ms,
      ratio: round(big.generate_ms! / big.peer_parse_ms!),
      goal: { tasks: 100_000, generate_ms: GOAL_MS },
      met: big.generate_ms! < GOAL_MS,
      loadavg_1m_at_start: load,
      cpus: cpus().length,
    })}\n`,
  );
}
