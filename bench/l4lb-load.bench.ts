// Full load of 10,000 VIPs × 3 backends in one nftables transaction, through the agent's own
// reconciler (render + `nft -f` + routes), against the same services in kube-proxy's nftables
// shape (a chain per service and per endpoint) loaded the same way, in the same run.
import { nftApplyText as nftApply } from '../src/kernel/raw.js';
import { nodeDataplane, renderTable } from '../src/kernel/index.js';
import { L4lbReconciler, type SyncResult } from '../src/l4lb/index.js';
import { must, parseIpv4 } from '../src/net/index.js';
import { pino } from 'pino';
import { benchNetns, median, renderKubeProxyShape, syntheticTable, timed } from './lib/l4lb.js';
import { round } from './lib/process.js';

const VIPS = 10_000;
const BACKENDS = 3;
const RUNS = 3;
const SELF = '10.98.0.1';

const table = syntheticTable(VIPS, BACKENDS);
const ns = await benchNetns(SELF);
try {
  const ours: number[] = [];
  const nftOnly: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // A fresh reconciler each time: its first sync is the full load a starting agent does.
    let result: SyncResult | undefined;
    const r = new L4lbReconciler({
      selfIp: SELF,
      log: pino({ level: 'silent' }),
      kernel: ns.opts,
      onSynced: (x) => (result = x),
    });
    ours.push(await timed(() => r.request(table)));
    if (result?.kind !== 'full' || r.error) throw new Error(`load failed: ${r.error}`);
    const text = renderTable(nodeDataplane(table, must(parseIpv4(SELF))));
    nftOnly.push(await timed(() => nftApply(text, ns.opts)));
  }
  const kpText = renderKubeProxyShape(table);
  const peer = await timed(() => nftApply(kpText, ns.opts));
  const o = median(ours);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'l4lb-load',
      vips: VIPS,
      backends_per_vip: BACKENDS,
      full_load_ms: round(o, 0),
      full_load_runs_ms: ours.map((x) => round(x, 0)),
      nft_only_ms: round(median(nftOnly), 0),
      peer: 'kube-proxy nftables shape (chain per service + per endpoint), same table, one nft -f',
      peer_ms: round(peer, 0),
      ratio: round(o / peer, 4),
      goal: { full_load_ms: 1000 },
      met: o < 1000,
    })}\n`,
  );
} finally {
  await ns.destroy();
}
