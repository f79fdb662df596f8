// One VIP's backends changed in a loaded table of 10,000 VIPs × 3 backends: the agent's increment
// (re-derive this node's data plane, diff, a few element updates in one `nft -f`, conntrack flush
// of the departed backend), against kube-proxy's increment for one service (new endpoint chains,
// service chain flushed and refilled) in its own 10k table, in the same run.
import { nftApplyText as nftApply } from '../src/kernel/raw.js';
import { L4lbReconciler, vipSchema, type ParsedVipTable, type SyncResult } from '../src/l4lb/index.js';
import { pino } from 'pino';
import {
  benchNetns,
  kubeProxyUpdate,
  median,
  renderKubeProxyShape,
  syntheticTable,
  timed,
} from './lib/l4lb.js';
import { round } from './lib/process.js';

const VIPS = 10_000;
const BACKENDS = 3;
const RUNS = 9;
const SELF = '10.98.0.1';

const base = syntheticTable(VIPS, BACKENDS);
const ns = await benchNetns(SELF);
try {
  const results: SyncResult[] = [];
  const r = new L4lbReconciler({
    selfIp: SELF,
    log: pino({ level: 'silent' }),
    kernel: ns.opts,
    onSynced: (x) => results.push(x),
  });
  await r.request(base);
  const ours: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // VIP 5000 swaps its last backend for a new one (a task replaced elsewhere).
    const vips = [...base.vips];
    const v = vips[5000]!;
    // Parsed as an agent reads a changed store entry; the other VIPs stay the same objects.
    vips[5000] = vipSchema.parse({
      ...v,
      backends: [...v.backends.slice(0, 2), { ...v.backends[2]!, ip: `10.200.0.${i + 1}` }],
    });
    const next: ParsedVipTable = { vips };
    ours.push(await timed(() => r.request(next)));
    if (results.at(-1)?.kind !== 'incremental' || r.error) throw new Error(`update failed: ${r.error}`);
  }
  await nftApply(renderKubeProxyShape(base), ns.opts);
  const peer: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const text = kubeProxyUpdate(5000, ['10.0.58.153', '10.0.58.154', `10.200.0.${i + 1}`], i);
    peer.push(await timed(() => nftApply(text, ns.opts)));
  }
  const o = median(ours);
  const p = median(peer);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'l4lb-update',
      vips: VIPS,
      backends_per_vip: BACKENDS,
      update_ms: round(o, 1),
      update_runs_ms: ours.map((x) => round(x, 1)),
      peer: "kube-proxy nftables shape: one service's endpoint chains replaced, same 10k table",
      peer_ms: round(p, 1),
      ratio: round(o / p, 3),
      goal: { update_ms: 50 },
      met: o < 50,
    })}\n`,
  );
} finally {
  await ns.destroy();
}
