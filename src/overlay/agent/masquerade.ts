// Egress masquerading for the overlays (specs/overlay.md §4.3 semantics): container traffic that
// leaves the overlays is masqueraded, overlay-to-overlay traffic never is. One nftables table,
// replaced atomically; IPv6 overlays get the same rule (the original had none).
export const MASQ_TABLE = 'dcnet_overlay';

export function renderMasqueradeTable(subnets4: readonly string[], subnets6: readonly string[]): string {
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
