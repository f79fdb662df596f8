// Egress masquerading for the overlays (specs/overlay.md §4.3 semantics): container traffic that
// leaves the overlays is masqueraded, overlay-to-overlay traffic never is. One nftables table,
// replaced atomically; IPv6 overlays get the same rule (the original had none). Rendered here from
// typed subnets, each re-checked, so no caller's text reaches `nft -f`.
import { isIpv4Cidr, isIpv6Cidr, type Ipv4Cidr, type Ipv6Cidr } from '../net/index.js';
import { need, type RunOptions } from './exec.js';
import { nftApply } from './nft.js';

export const MASQ_TABLE = 'dcnet_overlay';

export interface MasqueradeModel {
  /** The overlays' whole subnets (not the agent slices). */
  readonly overlays4: readonly Ipv4Cidr[];
  readonly overlays6: readonly Ipv6Cidr[];
}

export function renderMasqueradeTable(m: MasqueradeModel): string {
  const c = `nft ${MASQ_TABLE}`;
  const subnets4 = m.overlays4.map((s) => need(isIpv4Cidr, s, c, 'overlays4'));
  const subnets6 = m.overlays6.map((s) => need(isIpv6Cidr, s, c, 'overlays6'));
  const lines = [`table inet ${MASQ_TABLE} {}`, `delete table inet ${MASQ_TABLE}`];
  if (subnets4.length === 0 && subnets6.length === 0) return `${lines.join('\n')}\n`;
  lines.push(`table inet ${MASQ_TABLE} {`);
  if (subnets4.length > 0) {
    lines.push(
      `  set overlays4 {`,
      `    type ipv4_addr; flags interval;`,
      `    elements = { ${subnets4.join(', ')} }`,
      `  }`,
    );
  }
  if (subnets6.length > 0) {
    lines.push(
      `  set overlays6 {`,
      `    type ipv6_addr; flags interval;`,
      `    elements = { ${subnets6.join(', ')} }`,
      `  }`,
    );
  }
  lines.push(`  chain postrouting {`, `    type nat hook postrouting priority srcnat; policy accept;`);
  if (subnets4.length > 0) lines.push(`    ip saddr @overlays4 ip daddr != @overlays4 masquerade`);
  if (subnets6.length > 0) lines.push(`    ip6 saddr @overlays6 ip6 daddr != @overlays6 masquerade`);
  lines.push(`  }`, `}`);
  return `${lines.join('\n')}\n`;
}

/** Replaces the masquerade table (an empty model removes its rules). */
export async function applyMasquerade(m: MasqueradeModel, opts?: RunOptions): Promise<void> {
  await nftApply(renderMasqueradeTable(m), opts);
}
