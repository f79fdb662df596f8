// Crash safety of the overlay master: SIGKILL at random points while 200 agents register
// concurrently, over and over. Afterwards every registration that was answered must still hold
// exactly the allocation it was told, and no subnet, VTEP address or MAC may be held twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { masterFetch, startMaster } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';
import type { AgentInfo } from '../../src/overlay/index.js';
import { allocationOf, checkAllocations } from '../helpers/invariants.js';

const AGENTS = 200;
const MIN_KILLS_MID_FLIGHT = 20;
const MAX_ROUNDS = 80;

/** A small seeded PRNG so that a failing run can be repeated (DCNET_CRASH_SEED). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function registerOne(url: string, ip: string): Promise<AgentInfo | undefined> {
  // A ref'd timer, not AbortSignal.timeout (unref'd): a body read that a kill left unsettled must
  // neither hang the round nor let the event loop run dry under a pending test.
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 10_000);
  try {
    const res = await masterFetch(`${url}/overlay-master/agents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ip, mesos_bridge: true, docker_bridge: true }),
      signal: ac.signal,
    });
    if (res.status !== 200) return undefined;
    return (await res.json()) as AgentInfo;
  } catch {
    return undefined; // connection reset by the kill
  } finally {
    clearTimeout(timer);
  }
}

test('SIGKILL at 20+ random points during 200 concurrent registrations loses and doubles nothing', async () => {
  const seed = Number(process.env.DCNET_CRASH_SEED ?? Date.now() % 1e9);
  const random = prng(seed);
  const dir = await tempDir('crash');
  const ips = Array.from({ length: AGENTS }, (_, i) => `10.1.${i >> 8}.${(i & 255) + 1}`);
  const answered = new Map<string, AgentInfo>();
  let killsMidFlight = 0;
  let rounds = 0;

  while (killsMidFlight < MIN_KILLS_MID_FLIGHT || answered.size < AGENTS) {
    assert.ok(rounds++ < MAX_ROUNDS, `seed ${seed}: gave up after ${MAX_ROUNDS} rounds`);
    const m = await startMaster(['--data-dir', dir]);
    const killing = killsMidFlight < MIN_KILLS_MID_FLIGHT;
    // Half the kills come after a random delay, half right after the k-th answer (the window
    // in which an answer not yet durable would be lost).
    const killAfterAnswers = killing && random() < 0.5 ? 1 + Math.floor(random() * (AGENTS - 1)) : Infinity;
    let answers = 0;
    const pending = ips.map((ip) =>
      registerOne(m.url, ip).then((info) => {
        if (info && ++answers === killAfterAnswers) m.proc.kill('SIGKILL');
        return { ip, info };
      }),
    );
    if (killing && killAfterAnswers === Infinity) {
      await new Promise((r) => setTimeout(r, random() * 40));
      m.proc.kill('SIGKILL');
    }
    const results = await Promise.all(pending);
    if (!killing) await m.kill();
    else await m.exited;
    let failed = 0;
    for (const { ip, info } of results) {
      if (!info) {
        failed++;
        continue;
      }
      const before = answered.get(ip);
      if (before)
        assert.deepEqual(allocationOf(info), before, `seed ${seed}: ${ip} got a different allocation`);
      else answered.set(ip, allocationOf(info));
    }
    if (killing && failed > 0) killsMidFlight++;
  }

  // Every answered registration is in the recovered state, unchanged.
  const m = await startMaster(['--data-dir', dir]);
  try {
    const state = (await (await masterFetch(`${m.url}/overlay-master/state`)).json()) as {
      agents: AgentInfo[];
    };
    assert.equal(state.agents.length, AGENTS);
    checkAllocations(answered, state.agents, `seed ${seed}: `);
    // Nothing leaked either: exactly one VTEP and one slice per overlay per agent are in use.
    const pools = (await (await masterFetch(`${m.url}/overlay-master/pools`)).json()) as {
      vtep: { ipv4: { used: number } };
      overlays: { ipv4?: { used: number }; ipv6?: { used: number } }[];
    };
    assert.equal(pools.vtep.ipv4.used, AGENTS);
    assert.equal(pools.overlays[0]!.ipv4!.used, AGENTS);
    assert.equal(pools.overlays[1]!.ipv6!.used, AGENTS);
  } finally {
    await m.kill();
  }
});
