// Failover of HA masters: three `dcnet master --store etcd://…` on a three-member etcd; SIGKILL
// the leader, then time until a registration is accepted through a surviving master (the new
// leader elected, its state recovered). 20 runs. Peer, same run: etcd's own failover: SIGKILL of
// the etcd leader until the first write through the other members succeeds (5 runs).
import { EtcdStore } from '../src/store/index.js';
import { startEtcd } from '../src/sim/index.js';
import { percentile } from './lib/http-load.js';
import { round, startChild, startDcnetMaster } from './lib/process.js';

const RUNS = 20;
const ETCD_RUNS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const etcd = await startEtcd(3);
type Master = Awaited<ReturnType<typeof startChild>> & { url: string };
const start = async (port = 0): Promise<Master> => {
  const c = await startDcnetMaster([
    '--store',
    etcd.url,
    '--store-prefix',
    'bench/',
    '--listen',
    `127.0.0.1:${port}`,
    // etcd's and the masters' TLS are measured elsewhere; this measures the failover itself.
    '--insecure',
  ]);
  return Object.assign(c, { url: c.value });
};
const masters: Master[] = [await start(), await start(), await start()];

async function leader(): Promise<string> {
  for (;;) {
    for (const m of masters) {
      try {
        const s = (await (
          await fetch(`${m.url}/overlay-master/status`, { signal: AbortSignal.timeout(1000) })
        ).json()) as { leader: { url: string } | null };
        if (s.leader) return s.leader.url;
      } catch {
        // that one is down
      }
    }
    await sleep(20);
  }
}

async function registerThroughSurvivors(ip: string, dead: string): Promise<void> {
  for (let i = 0; ; i++) {
    const m = masters.filter((x) => x.url !== dead)[i % 2]!;
    try {
      const res = await fetch(`${m.url}/overlay-master/agents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ip }),
        signal: AbortSignal.timeout(5000),
      });
      if (res.status === 200) return;
    } catch {
      // retry
    }
    await sleep(10);
  }
}

try {
  const samples: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const url = await leader();
    // The current leader must be serving before we kill it.
    await registerThroughSurvivors(`10.20.${run}.1`, '');
    const idx = masters.findIndex((m) => m.url === url);
    const t0 = performance.now();
    masters[idx]!.proc.kill('SIGKILL');
    await registerThroughSurvivors(`10.20.${run}.2`, url);
    samples.push(performance.now() - t0);
    process.stderr.write(`failover ${run + 1}/${RUNS}: ${Math.round(samples[samples.length - 1]!)} ms\n`);
    const killed = masters[idx]!.proc;
    if (killed.exitCode === null && killed.signalCode === null)
      await new Promise((r) => killed.once('exit', r));
    masters[idx] = await start(Number(new URL(url).port));
  }

  // Peer: etcd's own leader failover, measured the same way (first write after the kill).
  const etcdSamples: number[] = [];
  for (let run = 0; run < ETCD_RUNS; run++) {
    const probe = new EtcdStore({ endpoints: etcd.endpoints, prefix: 'bench-peer/' });
    const status = await probe.etcd.maintenance.status();
    const leaderId = String(status.leader);
    const members = (await probe.etcd.cluster.memberList({})).members;
    const leaderName = members.find((m) => String(m.ID) === leaderId)?.name;
    await probe.close();
    if (!leaderName) throw new Error('no etcd leader');
    const survivors = etcd.members.filter((m) => m.name !== leaderName).map((m) => m.client);
    const store = new EtcdStore({ endpoints: survivors, prefix: 'bench-peer/', timeoutMs: 1000 });
    const t0 = performance.now();
    await etcd.kill(leaderName);
    for (;;) {
      try {
        await store.put('k', String(run));
        break;
      } catch {
        await sleep(10);
      }
    }
    etcdSamples.push(performance.now() - t0);
    await store.close();
    await etcd.restart(leaderName);
    await sleep(1500);
  }
  samples.sort((a, b) => a - b);
  etcdSamples.sort((a, b) => a - b);
  const p99 = percentile(samples, 99);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'master-failover',
      runs: RUNS,
      leader_lease_s: 2,
      p50_ms: round(percentile(samples, 50)),
      p99_ms: round(p99),
      peer: 'etcd leader failover (SIGKILL of the etcd leader to the first write), same etcd',
      peer_runs: ETCD_RUNS,
      peer_p50_ms: round(percentile(etcdSamples, 50)),
      peer_p99_ms: round(percentile(etcdSamples, 99)),
      ratio: round(percentile(samples, 50) / percentile(etcdSamples, 50)),
      goal: { p99_ms: 3000 },
      met: p99 < 3000,
    })}\n`,
  );
} finally {
  for (const m of masters) m.proc.kill('SIGKILL');
  await etcd.stop();
}
