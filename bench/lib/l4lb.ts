// Shared pieces of the L4LB benchmarks: a synthetic VIP table of any size, the kube-proxy-shaped
// nftables layout it is compared with (vmap → one chain per service with a `numgen` vmap → one
// chain per endpoint: specs/peers.md §1.1), and a throwaway network namespace.
import { randomBytes } from 'node:crypto';
import { run, type RunOptions } from '../../src/kernel/raw.js';
import { parseVipTable, type ParsedVipTable, type Vip, type VipTable } from '../../src/l4lb/index.js';

const ip4 = (n: number, base: number): string => [base, (n >> 16) & 255, (n >> 8) & 255, n & 255].join('.');

/** `count` VIPs in 11.0.0.0/8, each with `backends` backends on distinct 10.x addresses. */
export function syntheticTable(count: number, backends: number, agent = '10.99.0.9'): ParsedVipTable {
  const vips: Vip[] = [];
  for (let i = 0; i < count; i++) {
    vips.push({
      protocol: 'tcp',
      ip: ip4(i + 1, 11),
      port: 80,
      family: 4,
      name: { label: `/svc${i}`, framework: 'marathon' },
      backends: Array.from({ length: backends }, (_, j) => ({
        ip: ip4(i * backends + j + 1, 10),
        port: 8080,
        weight: 2,
        agent,
        task: `svc${i}.${j}`,
      })),
    });
  }
  return parseVipTable({ vips });
}

export const KP_TABLE = 'kp_peer';

/** The same table in kube-proxy's nftables shape. */
export function renderKubeProxyShape(table: VipTable): string {
  const L = [`table ip ${KP_TABLE} {}`, `delete table ip ${KP_TABLE}`, `table ip ${KP_TABLE} {`];
  const elems: string[] = [];
  table.vips.forEach((v, i) => {
    v.backends.forEach((b, j) => {
      L.push(
        `  chain ep-${i}-${j} {`,
        `    ip saddr ${b.ip} meta mark set meta mark | 0x4000`,
        `    meta l4proto tcp dnat to ${b.ip}:${b.port}`,
        '  }',
      );
    });
    L.push(
      `  chain svc-${i} {`,
      `    numgen random mod ${v.backends.length} vmap { ${v.backends.map((_, j) => `${j} : goto ep-${i}-${j}`).join(', ')} }`,
      '  }',
    );
    elems.push(`${v.ip} . tcp . ${v.port} : goto svc-${i}`);
  });
  L.push(
    '  map vips {',
    '    type ipv4_addr . inet_proto . inet_service : verdict',
    `    elements = { ${elems.join(',\n      ')} }`,
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    ip daddr . meta l4proto . th dport vmap @vips',
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    '    ip daddr . meta l4proto . th dport vmap @vips',
    '  }',
    '}',
  );
  return `${L.join('\n')}\n`;
}

/** kube-proxy's incremental change of one service's endpoints: new endpoint chains, the service
 *  chain flushed and refilled (as its nftables proxier does for a changed service). */
export function kubeProxyUpdate(i: number, newBackends: readonly string[], gen: number): string {
  const L: string[] = [];
  newBackends.forEach((ip, j) => {
    L.push(
      `add chain ip ${KP_TABLE} ep-${i}-${j}-g${gen}`,
      `add rule ip ${KP_TABLE} ep-${i}-${j}-g${gen} ip saddr ${ip} meta mark set meta mark | 0x4000`,
      `add rule ip ${KP_TABLE} ep-${i}-${j}-g${gen} meta l4proto tcp dnat to ${ip}:8080`,
    );
  });
  L.push(
    `flush chain ip ${KP_TABLE} svc-${i}`,
    `add rule ip ${KP_TABLE} svc-${i} numgen random mod ${newBackends.length} vmap { ${newBackends.map((_, j) => `${j} : goto ep-${i}-${j}-g${gen}`).join(', ')} }`,
  );
  return `${L.join('\n')}\n`;
}

/** A fresh network namespace (lo up, one veth so that the node has an address); removed by `destroy`. */
export async function benchNetns(
  selfIp: string,
): Promise<{ netns: string; opts: RunOptions; destroy(): Promise<void> }> {
  const netns = `dcl4b${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', netns]);
  const opts: RunOptions = { netns, timeoutMs: 600_000 };
  await run('ip', ['link', 'set', 'lo', 'up'], opts);
  await run('ip', ['link', 'add', 'bn0', 'type', 'veth', 'peer', 'name', 'bn1'], opts);
  await run('ip', ['link', 'set', 'bn0', 'up'], opts);
  await run('ip', ['link', 'set', 'bn1', 'up'], opts);
  await run('ip', ['addr', 'add', `${selfIp}/24`, 'dev', 'bn0'], opts);
  return { netns, opts, destroy: () => run('ip', ['netns', 'del', netns]).then(() => undefined) };
}

export const timed = async (fn: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

export const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
