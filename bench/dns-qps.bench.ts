// DNS queries per second on the local zones: dnsperf against dcnet's server (ZoneResponder with
// a few hundred names in l4lb.thisdcos.directory, behind the dcos-dns router, in its own process)
// and against dnsmasq serving the same names from an addn-hosts file (--no-resolv: it never
// forwards), on another loopback address, with the same query file. Runs alternate; the medians
// are compared. dcnet runs both as one process (the headline figure) and as a DcosDnsCluster of
// two workers sharing the socket. Then p99 latency of each at half of dcnet's measured maximum
// (dnsperf -Q, latencies from -v).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { round, startChild } from './lib/process.js';
import { benchNames } from './lib/dns-names.js';

const execFileP = promisify(execFile);
const NAMES = 300;
const SECONDS = 5;
const RUNS = 3;
const GOAL = 0.8;

const workdir = await mkdtemp(join(tmpdir(), 'dcnet-bench-dns-'));
const stops: (() => Promise<void>)[] = [];
try {
  const names = benchNames(NAMES);
  const queries = join(workdir, 'queries.txt');
  await writeFile(queries, names.map(([n]) => `${n} A\n`).join(''));
  const hosts = join(workdir, 'hosts.txt');
  await writeFile(hosts, names.map(([n, ip]) => `${ip} ${n}\n`).join(''));

  const startDcnet = async (workers: number): Promise<number> => {
    const child = await startChild(
      process.execPath,
      [join(import.meta.dirname, 'lib', 'dns-zone-server.js'), '127.0.0.1', String(NAMES), String(workers)],
      (l) => (l.startsWith('{"port"') ? String((JSON.parse(l) as { port: number }).port) : undefined),
    );
    stops.push(() => child.stop());
    return Number(child.value);
  };
  const dcnetPort = await startDcnet(0);
  const clusterPort = await startDcnet(2);

  // dnsmasq on another loopback address and a random high port.
  const maskHost = `127.${10 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
  const maskPort = 20000 + Math.floor(Math.random() * 30000);
  const dnsmasq = await startChild(
    'dnsmasq',
    [
      '--keep-in-foreground',
      '--no-resolv',
      '--no-hosts',
      '--no-poll',
      `--addn-hosts=${hosts}`,
      '--local=/thisdcos.directory/',
      `--listen-address=${maskHost}`,
      '--bind-interfaces',
      `--port=${maskPort}`,
      '--cache-size=10000',
      `--pid-file=${join(workdir, 'dnsmasq.pid')}`,
      '--user=root',
      '--log-facility=-',
    ],
    (l) => (l.includes('started') || l.includes('read ') ? 'up' : undefined),
  );
  stops.push(() => dnsmasq.stop());

  const dnsperf = async (host: string, port: number, extra: string[] = []): Promise<string> => {
    const { stdout } = await execFileP(
      'dnsperf',
      ['-s', host, '-p', String(port), '-d', queries, '-l', String(SECONDS), ...extra],
      { maxBuffer: 1 << 30 },
    );
    return stdout;
  };
  const qps = (out: string): number => Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const lost = (out: string): number => Number(/Queries lost:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  /** p99 of the per-query latencies dnsperf -v prints ("> NOERROR name A 0.000123"). */
  const p99ms = (out: string): number => {
    const lat: number[] = [];
    for (const m of out.matchAll(/^> \S+ .* ([\d.]+)$/gm)) lat.push(Number(m[1]));
    lat.sort((a, b) => a - b);
    return lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]! * 1000 : NaN;
  };

  const ours: number[] = [];
  const cluster: number[] = [];
  const theirs: number[] = [];
  let lostOurs = 0;
  let lostTheirs = 0;
  // Warm-up (JIT) for both.
  await dnsperf('127.0.0.1', dcnetPort, ['-l', '2']);
  await dnsperf('127.0.0.1', clusterPort, ['-l', '2']);
  for (let i = 0; i < RUNS; i++) {
    const a = await dnsperf('127.0.0.1', dcnetPort);
    ours.push(qps(a));
    lostOurs += lost(a);
    const c = await dnsperf('127.0.0.1', clusterPort);
    cluster.push(qps(c));
    lostOurs += lost(c);
    const b = await dnsperf(maskHost, maskPort);
    theirs.push(qps(b));
    lostTheirs += lost(b);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const o = median(ours);
  const oc = median(cluster);
  const t = median(theirs);
  const half = Math.floor(o / 2);
  const p99Ours = p99ms(await dnsperf('127.0.0.1', dcnetPort, ['-Q', String(half), '-v']));
  const p99Theirs = p99ms(await dnsperf(maskHost, maskPort, ['-Q', String(half), '-v']));
  process.stdout.write(
    `${JSON.stringify({
      bench: 'dns-qps',
      names: NAMES,
      seconds_per_run: SECONDS,
      runs: RUNS,
      qps: Math.round(o),
      qps_runs: ours.map(Math.round),
      lost: lostOurs,
      cluster2_qps: Math.round(oc),
      cluster2_qps_runs: cluster.map(Math.round),
      cluster2_ratio: round(oc / t),
      peer: 'dnsmasq 2.90 (--no-resolv, addn-hosts, same names and query file)',
      peer_qps: Math.round(t),
      peer_qps_runs: theirs.map(Math.round),
      peer_lost: lostTheirs,
      ratio: round(o / t),
      p99_ms_at_half_load: round(p99Ours, 3),
      peer_p99_ms_at_half_load: round(p99Theirs, 3),
      half_load_qps: half,
      goal: { ratio: GOAL },
      met: o / t >= GOAL,
    })}\n`,
  );
} finally {
  for (const stop of stops.reverse()) await stop();
  await rm(workdir, { recursive: true, force: true });
}
