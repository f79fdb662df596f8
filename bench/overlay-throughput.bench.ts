// Overlay throughput: iperf3 from a container on one host to a container on another, across
// VXLAN (vtep1024, container MTU from the CNI config), against iperf3 host to host on the underlay
// in the same run. Runs alternate, three each; the medians are compared.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OverlayCluster, sweepStale } from '../src/sim/index.js';
import { round } from './lib/process.js';

const SECONDS = 3;
const RUNS = 3;

await sweepStale();
const workdir = await mkdtemp(join(tmpdir(), 'dcnet-bench-iperf-'));
const cluster = await OverlayCluster.start({ agents: 2, workdir });
try {
  await cluster.waitReady(60_000);
  const [h1, h2] = [cluster.agent('a1').host, cluster.agent('a2').host];
  const c1 = await cluster.tb.addContainer(h1, 'c1', [await cluster.conflist('a1', 'dcos')]);
  const c2 = await cluster.tb.addContainer(h2, 'c2', [await cluster.conflist('a2', 'dcos')]);
  // Same host, same bridge: the container plumbing (veth, bridge) without VXLAN, to show the split.
  const c1b = await cluster.tb.addContainer(h1, 'c1b', [await cluster.conflist('a1', 'dcos')]);
  const iperf = async (serverNs: string, clientNs: string, target: string): Promise<number> => {
    const server = cluster.tb.spawn(serverNs, 'iperf3', ['-s', '-1', '-p', '5201']);
    await new Promise((r) => setTimeout(r, 300));
    const { stdout } = await cluster.tb.exec(
      clientNs,
      'iperf3',
      ['-c', target, '-p', '5201', '-t', String(SECONDS), '-J'],
      {
        timeoutMs: (SECONDS + 20) * 1000,
      },
    );
    await server.exited;
    const r = JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } };
    return r.end.sum_received.bits_per_second / 1e9;
  };
  const overlay: number[] = [];
  const underlay: number[] = [];
  const sameHost: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    overlay.push(await iperf(c2.netns, c1.netns, c2.ips[0]!));
    underlay.push(await iperf(h2.netns, h1.netns, h2.ip));
    sameHost.push(await iperf(c1b.netns, c1.netns, c1b.ips[0]!));
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const o = median(overlay);
  const u = median(underlay);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'overlay-throughput',
      seconds_per_run: SECONDS,
      runs: RUNS,
      overlay_gbit_s: round(o),
      overlay_runs: overlay.map((x) => round(x)),
      peer: 'iperf3 host to host on the underlay (no VXLAN)',
      peer_gbit_s: round(u),
      peer_runs: underlay.map((x) => round(x)),
      ratio: round(o / u),
      same_host_container_gbit_s: round(median(sameHost)),
      goal: { ratio: 0.9 },
      met: o / u >= 0.9,
    })}\n`,
  );
} finally {
  await cluster.destroy();
  await rm(workdir, { recursive: true, force: true });
}
