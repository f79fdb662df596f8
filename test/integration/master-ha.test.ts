// Highly available masters: three etcd members, three `dcnet master --store etcd://…` processes.
// Registrations go to every master; the leader is SIGKILLed in the middle of 500 concurrent ones;
// afterwards every answered registration holds and nothing is held twice.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  masterFetch,
  operatorTlsDir,
  runDcnet,
  startMaster,
  type RunningProcess,
} from '../helpers/process.js';
import { startEtcd, type EtcdCluster } from '../../src/sim/index.js';
import type { AgentInfo } from '../../src/overlay/index.js';
import { checkAllocations } from '../helpers/invariants.js';

let etcd: EtcdCluster;
let masters: (RunningProcess & { url: string })[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function status(
  url: string,
): Promise<{ leader: { url: string } | null; masters: unknown[]; agents?: unknown[] }> {
  return (await (
    await masterFetch(`${url}/overlay-master/status`, { signal: AbortSignal.timeout(3000) })
  ).json()) as never;
}

async function leaderUrl(): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    for (const m of masters.filter((x) => x.proc.exitCode === null && x.proc.signalCode === null)) {
      const s = await status(m.url).catch(() => undefined);
      if (s?.leader) return s.leader.url;
    }
    if (Date.now() > deadline) throw new Error('no leader elected');
    await sleep(50);
  }
}

/** Registers through master `first`, moving on to the others while they fail (as agents do). */
async function register(ip: string, first: number): Promise<AgentInfo> {
  const deadline = Date.now() + 30_000;
  for (let i = first; ; i++) {
    const m = masters[i % masters.length]!;
    try {
      const res = await masterFetch(`${m.url}/overlay-master/agents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ip }),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status === 200) return (await res.json()) as AgentInfo;
    } catch {
      // that master is gone: try the next
    }
    if (Date.now() > deadline) throw new Error(`${ip}: no master answered`);
    await sleep(50);
  }
}

before(async () => {
  etcd = await startEtcd(3);
  masters = await Promise.all(
    [0, 1, 2].map(() => startMaster(['--store', etcd.url, '--store-prefix', 'ha-test/'])),
  );
});

after(async () => {
  await Promise.all(masters.map((m) => m.kill('SIGKILL')));
  await etcd?.stop();
});

test('one leader; any master answers, followers forward', async () => {
  const leader = await leaderUrl();
  for (const m of masters) assert.equal((await status(m.url)).leader?.url, leader);
  const follower = masters.find((m) => m.url !== leader)!;
  let res: Response;
  const deadline = Date.now() + 10_000;
  do {
    res = await masterFetch(`${follower.url}/overlay-master/agents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ip: '10.9.0.1' }),
    });
    if (res.status !== 200) await sleep(100);
  } while (res.status !== 200 && Date.now() < deadline);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('x-dcnet-leader'), leader);
  const s = await status(follower.url);
  assert.equal(s.masters.length, 3);
});

test('SIGKILL of the leader during 500 concurrent registrations: every answer holds, nothing held twice', async () => {
  const leader = await leaderUrl();
  const ips = Array.from({ length: 500 }, (_, i) => `10.10.${Math.floor(i / 250)}.${(i % 250) + 1}`);
  let answered = 0;
  let answeredAtKill = -1;
  const killer = (async () => {
    // Kill once a fifth has been answered: squarely in the middle of the burst.
    while (answered < ips.length / 5) await sleep(5);
    answeredAtKill = answered;
    await masters.find((m) => m.url === leader)!.kill('SIGKILL');
  })();
  const answers = await Promise.all(
    ips.map((ip, i) =>
      register(ip, i).then((info) => {
        answered++;
        return [ip, info] as const;
      }),
    ),
  );
  await killer;
  assert.ok(answeredAtKill > 0 && answeredAtKill < ips.length / 2, `killed after ${answeredAtKill} answers`);
  const newLeader = await leaderUrl();
  assert.notEqual(newLeader, leader);
  const state = (await (await masterFetch(`${newLeader}/overlay-master/state`)).json()) as {
    agents: AgentInfo[];
  };
  checkAllocations(new Map(answers), state.agents);
  // The killed master comes back as a follower.
  const idx = masters.findIndex((m) => m.url === leader);
  const port = new URL(leader).port;
  masters[idx] = await startMaster([
    '--store',
    etcd.url,
    '--store-prefix',
    'ha-test/',
    '--listen',
    `127.0.0.1:${port}`,
  ]);
  const deadline = Date.now() + 5000;
  while ((await status(masters[idx]!.url)).leader?.url !== newLeader) {
    assert.ok(Date.now() < deadline, 'the restarted master learns the leader');
    await sleep(50);
  }
});

test('losing one etcd member changes nothing visible', async () => {
  await etcd.kill('m2');
  const info = await register('10.11.0.1', 0);
  assert.ok(info.overlays?.length);
  const again = await register('10.11.0.1', 1);
  assert.deepEqual(again, info);
  await etcd.restart('m2');
});

test('dcnet status: masters, leader, store, agents, from any master', async () => {
  const leader = await leaderUrl();
  const dead = 'https://127.0.0.1:9';
  const r = await runDcnet([
    'status',
    '--tls-dir',
    await operatorTlsDir(),
    '--master',
    `${dead},${masters[0]!.url}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`\\* ${leader.replace(/[./]/g, '\\$&')}  \\(leader\\)`));
  assert.match(r.stdout, /store: reachable, revision \d+/);
  assert.match(r.stdout, /agents \(\d+\):/);
  assert.match(r.stdout, /10\.9\.0\.1 +vtep 44\.128\.0\.\d+ +NOT published/);
  const json = JSON.parse(
    (await runDcnet(['status', '--json', '--tls-dir', await operatorTlsDir(), '--master', masters[1]!.url]))
      .stdout,
  ) as {
    masters: unknown[];
    agents: unknown[];
    pools: { agents: number; vtep: { ipv4: { used: number } }; overlays: { name: string }[] };
    summary: { vips: number; dnsZones: string[] };
  };
  assert.equal(json.masters.length, 3);
  // Pools: the leader's counts (asked of a follower, which names the leader), one VTEP per agent.
  assert.equal(json.pools.agents, json.agents.length);
  assert.equal(json.pools.vtep.ipv4.used, json.agents.length);
  assert.ok(json.pools.overlays.some((o) => o.name === 'dcos'));
  assert.match(
    r.stdout,
    new RegExp(`vtep +44\\.128\\.0\\.0/20 +${json.agents.length} used of \\d+, \\d+ free`),
  );
  assert.match(r.stdout, /dcos +9\.0\.0\.0\/8 \/24 +\d+ used of 65536/);
  // No Mesos here: no VIPs and no zones, said so.
  assert.equal(json.summary.vips, 0);
  assert.match(r.stdout, /VIPs: 0/);
  assert.match(r.stdout, /DNS zones served by every node \(0\): none published/);
  const none = await runDcnet(['status', '--tls-dir', await operatorTlsDir(), '--master', dead]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no master answered/);
});
