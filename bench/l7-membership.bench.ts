// L7 membership changes under load: the demo cluster, a steady keep-alive HTTP load through
// `dcnet lb` on the public agent while /web is scaled 3→4→3… 20 times (every change is a task
// started or killed, seen through Marathon's events). Counts failed requests and reloads avoided
// by the Runtime API. Peer, in the same run: the same load straight to one web task (no LB, no
// changes). Also the same 20 changes with `--no-runtime-api` (a reload per change), for contrast.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Demo, DEMO_LB_AGENT, DEMO_VHOST, DCNET_BIN, sweepStale } from '../src/sim/index.js';
import { scaleWeb, startLoad, type LoadSummary } from './lib/l7-load.js';
import { round } from './lib/process.js';

const CHANGES = 20;

await sweepStale();
const workdir = await mkdtemp(join(tmpdir(), 'dcnet-bench-l7-'));
const demo = await Demo.up({ workdir, detach: false, say: () => {} });
try {
  const c = demo.cluster;
  const lbHost = c.agent(DEMO_LB_AGENT).host;
  // Load from a private agent (on the overlay, so it can also reach a task directly) that does
  // not host the web task the peer measurement targets.
  const web = (await demo.tasks()).find((t) => t.app === '/web')!;
  const fromAgent = [...c.agents.keys()].find((n) => n !== web.agent && n !== DEMO_LB_AGENT)!;
  const from = c.agent(fromAgent).host.netns;
  const curl = async (url: string): Promise<string> =>
    (await c.tb.exec(from, 'curl', ['-s', '-m', '5', url])).stdout;
  const status = async (): Promise<{ reloads: number; reloadsAvoided: number }> =>
    JSON.parse(await curl(`http://${lbHost.ip}:9090/_dcnet/status`)) as never;
  const webServers = async (): Promise<string[]> =>
    (await curl(`http://${lbHost.ip}:9090/haproxy?stats;csv`))
      .split('\n')
      .map((l) => l.split(','))
      .filter((f) => f[0]?.startsWith('web_') && f[1] && f[1] !== 'FRONTEND' && f[1] !== 'BACKEND')
      .filter((f) => !/MAINT/.test(f[17] ?? ''))
      .map((f) => f[1]!);

  const changes = async (): Promise<{ load: LoadSummary; reloads: number; avoided: number }> => {
    const before = await status();
    const load = await startLoad(demo, from, {
      url: `http://${lbHost.ip}/`,
      host: DEMO_VHOST,
      concurrency: 8,
    });
    for (let i = 0; i < CHANGES; i++) await scaleWeb(demo, i % 2 === 0 ? 4 : 3, webServers);
    await new Promise((r) => setTimeout(r, 1000));
    const summary = await load.finish();
    const after = await status();
    return {
      load: summary,
      reloads: after.reloads - before.reloads,
      avoided: after.reloadsAvoided - before.reloadsAvoided,
    };
  };

  const runtime = await changes();

  // Peer: the same load, same duration, straight to one web task (still running: scaling down
  // kills the newest tasks first).
  const direct = await startLoad(demo, from, { url: `http://${web.ips[0]}/`, concurrency: 8 });
  await new Promise((r) => setTimeout(r, runtime.load.seconds * 1000));
  const peer = await direct.finish();

  // Contrast: the same changes with a reload for each.
  await demo.lb!.stop();
  demo.lb = c.tb.spawn(lbHost.netns, process.execPath, [
    DCNET_BIN,
    'lb',
    '--marathon',
    demo.marathonUrl,
    '--group',
    'external',
    '--haproxy-config',
    join(workdir, 'lb-reload', 'haproxy.cfg'),
    '--no-runtime-api',
  ]);
  for (let i = 0; ; i++) {
    const out = (
      await c.tb
        .exec(from, 'curl', ['-s', '-m', '2', '-H', `Host: ${DEMO_VHOST}`, `http://${lbHost.ip}/`])
        .catch(() => ({ stdout: '' }))
    ).stdout;
    if (out.startsWith('web.')) break;
    if (i > 150) throw new Error('lb --no-runtime-api did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  const reloading = await changes();

  const rps = (l: LoadSummary): number => Math.round(l.requests / l.seconds);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'l7-membership-changes',
      changes: CHANGES,
      concurrency: 8,
      requests: runtime.load.requests,
      failed: runtime.load.failed,
      failure_kinds: runtime.load.kinds,
      rps: rps(runtime.load),
      reloads: runtime.reloads,
      reloads_avoided: runtime.avoided,
      load_from: fromAgent,
      peer: 'the same load from the same node straight to one web task (no LB, no changes), same duration',
      peer_requests: peer.requests,
      peer_failed: peer.failed,
      peer_rps: rps(peer),
      ratio: round(rps(runtime.load) / rps(peer)),
      reload_per_change: {
        requests: reloading.load.requests,
        failed: reloading.load.failed,
        failure_kinds: reloading.load.kinds,
        rps: rps(reloading.load),
        reloads: reloading.reloads,
      },
      seconds: round(runtime.load.seconds, 1),
      goal: { failed: 0 },
      met: runtime.load.failed === 0,
    })}\n`,
  );
} finally {
  await demo.destroy();
  await rm(workdir, { recursive: true, force: true });
}
