// Convergence of the overlay data plane: 20 simulated hosts run `dcnet agent`; a new agent joins
// and we measure from its registration at the master (master log) until every other host has
// programmed its route, neighbour and FDB entries (each host's "data plane updated" log line).
// Peer, same run: the bench process itself pushing the same entries into the 20 hosts directly
// (`ip -batch` + `bridge -batch` in parallel): the floor of any distribution scheme.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OverlayCluster, sweepStale } from '../src/sim/index.js';
import { bridgeBatchText as bridgeBatch, ipBatchText as ipBatch } from '../src/kernel/raw.js';
import type { AgentInfo } from '../src/overlay/index.js';
import { percentile } from './lib/http-load.js';
import { round } from './lib/process.js';

const HOSTS = 20;
const SAMPLES = 15;

interface LogLine {
  time: number;
  msg?: string;
  agent?: string;
  changes?: string[];
}

function logLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // partial line
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

await sweepStale();
const workdir = await mkdtemp(join(tmpdir(), 'dcnet-bench-conv-'));
const cluster = await OverlayCluster.start({ agents: HOSTS, workdir });
try {
  await cluster.waitReady(180_000);
  const base = [...cluster.agents.keys()];
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const name = `n${i}`;
    const node = await cluster.addAgent(name, HOSTS + 1 + i);
    await cluster.waitReady(60_000, [name]);
    const info = JSON.parse(
      await cluster.httpGet(node.host, `${node.url}/overlay-agent/overlay`),
    ) as AgentInfo;
    const slice = info.overlays!.find((o) => o.info.name === 'dcos')!.subnet!;
    const registered = logLines(cluster.master.proc.output()).find(
      (l) => l.msg === 'agent registered' && l.agent === node.host.ip,
    );
    if (!registered) throw new Error(`no registration line for ${node.host.ip}`);
    let done: number[] = [];
    const deadline = Date.now() + 30_000;
    while (done.length < base.length) {
      if (Date.now() > deadline)
        throw new Error(`only ${done.length}/${base.length} hosts programmed ${slice}`);
      await sleep(50);
      done = base
        .map((b) =>
          logLines(cluster.agent(b).proc.output()).find(
            (l) =>
              l.msg === 'data plane updated' &&
              l.time >= registered.time &&
              l.changes?.some((c) => c.startsWith(`route replace ${slice} `)),
          ),
        )
        .filter((l): l is LogLine => l !== undefined)
        .map((l) => l.time);
    }
    samples.push(Math.max(...done) - registered.time);
    // Back to 20 hosts: stop the newcomer and delete it (every host withdraws it).
    await cluster.stopAgent(name);
    await cluster.httpPost(cluster.master.host, `${cluster.master.url}/overlay-master/agents/delete`, {
      agents: [node.host.ip],
    });
    await sleep(300);
  }

  // Peer: push one peer's entries into the 20 hosts directly, in parallel.
  const peerSamples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const ipLines = [
      `neigh replace 44.128.9.${i + 1} lladdr 70:b3:d5:80:09:${(i + 1).toString(16).padStart(2, '0')} dev vtep1024 nud permanent`,
      `route replace 9.9.${i}.0/24 via 44.128.9.${i + 1} dev vtep1024 proto 97`,
      `route replace 10.250.9.${i + 1}/32 via 44.128.9.${i + 1} dev vtep1024 table 42 proto 97`,
    ];
    const brLines = [
      `fdb replace 70:b3:d5:80:09:${(i + 1).toString(16).padStart(2, '0')} dev vtep1024 dst 10.250.9.${i + 1} self permanent`,
    ];
    const t0 = performance.now();
    await Promise.all(
      base.map(async (b) => {
        const netns = cluster.agent(b).host.netns;
        await ipBatch(ipLines, { netns });
        await bridgeBatch(brLines, { netns });
      }),
    );
    peerSamples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  peerSamples.sort((a, b) => a - b);
  const p50 = percentile(samples, 50);
  const p99 = percentile(samples, 99);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'overlay-convergence',
      hosts: HOSTS,
      samples: SAMPLES,
      p50_ms: round(p50),
      p99_ms: round(p99),
      peer: 'bench process pushing the same entries into the 20 hosts directly (ip/bridge -batch, parallel)',
      peer_p50_ms: round(percentile(peerSamples, 50)),
      peer_p99_ms: round(percentile(peerSamples, 99)),
      ratio: round(p50 / percentile(peerSamples, 50)),
      goal: { p99_ms: 1000 },
      met: p99 < 1000,
    })}\n`,
  );
} finally {
  await cluster.destroy();
  await rm(workdir, { recursive: true, force: true });
}
