// The DNAT rules of `mesos-cni-port-mapper` (Mesos' plugins/port_mapper semantics) in nftables
// instead of iptables: one regular chain per configured `chain`, jumped to for packets to a local
// address (prerouting, and output except to 127.0.0.0/8 and ::1), one rule per port mapping
// tagged `container_id: <id>` so that DEL finds them without the address. Rendered from typed
// values, each re-checked here.
import { isIfName, isIpv4, isIpv6, type IfName, type IpAddr } from '../net/index.js';
import { KernelInputError, need, needInt, needOneOf, runJson, type RunOptions } from './exec.js';
import { nftApply, nftTableExists, type NftJson } from './nft.js';

export const PORT_MAPPER_TABLE = 'dcnet_port_mapper';
/** A chain name nft takes unquoted, bounded as iptables bounds it. */
const CHAIN = /^[A-Za-z][A-Za-z0-9_-]{0,27}$/;
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$/;

export interface PortMapping {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: 'tcp' | 'udp';
}

export interface PortMapperRules {
  readonly chain: string;
  readonly containerId: string;
  /** Traffic arriving on these devices is not mapped (the bridge itself: no hairpin loops). */
  readonly excludeDevices: readonly IfName[];
  /** The container's addresses, one per family at most. */
  readonly addresses: readonly IpAddr[];
  readonly mappings: readonly PortMapping[];
}

const tag = (containerId: string): string => `container_id: ${containerId}`;

function checked(r: Pick<PortMapperRules, 'chain' | 'containerId'>): { chain: string; id: string } {
  if (!CHAIN.test(r.chain)) throw new KernelInputError('nft port-mapper', 'chain', r.chain);
  if (!CONTAINER_ID.test(r.containerId))
    throw new KernelInputError('nft port-mapper', 'containerId', r.containerId);
  return { chain: r.chain, id: r.containerId };
}

/** The transaction for ADD: the table and this chain's hooks (idempotent), then this container's
 *  rules replacing any it had. Deleting old rules needs their handles, so they are passed in. */
export function renderPortMapperAdd(r: PortMapperRules, oldHandles: readonly number[]): string {
  const c = 'nft port-mapper';
  const { chain, id } = checked(r);
  const t = `inet ${PORT_MAPPER_TABLE}`;
  const devices = r.excludeDevices.map((d) => need(isIfName, d, c, 'excludeDevices'));
  const pre = `pre_${chain}`;
  const out = `out_${chain}`;
  const lines = [
    `table ${t} {`,
    `  chain ${pre} { type nat hook prerouting priority dstnat; policy accept; }`,
    `  chain ${out} { type nat hook output priority -100; policy accept; }`,
    `  chain ${chain} { }`,
    `}`,
    `flush chain ${t} ${pre}`,
    `flush chain ${t} ${out}`,
    `add rule ${t} ${pre} fib daddr type local jump ${chain}`,
    `add rule ${t} ${out} ip daddr != 127.0.0.0/8 fib daddr type local jump ${chain}`,
    `add rule ${t} ${out} ip6 daddr != ::1 fib daddr type local jump ${chain}`,
    ...oldHandles.map((h) => `delete rule ${t} ${chain} handle ${needInt(h, 1, 2 ** 32, c, 'handle')}`),
  ];
  const exclude = devices.length > 0 ? `iifname != { ${devices.map((d) => `"${d}"`).join(', ')} } ` : '';
  for (const addr of r.addresses) {
    const v6 = isIpv6(addr);
    if (!v6 && !isIpv4(addr)) throw new KernelInputError(c, 'addresses', addr);
    for (const m of r.mappings) {
      const proto = needOneOf(m.protocol, ['tcp', 'udp'] as const, c, 'protocol');
      const host = needInt(m.hostPort, 1, 65535, c, 'hostPort');
      const ctr = needInt(m.containerPort, 1, 65535, c, 'containerPort');
      const to = v6 ? `ip6 to [${addr}]:${ctr}` : `ip to ${addr}:${ctr}`;
      lines.push(
        `add rule ${t} ${chain} meta nfproto ${v6 ? 'ipv6' : 'ipv4'} ${exclude}${proto} dport ${host} dnat ${to} comment "${tag(id)}"`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Handles of this container's rules in `chain` (none when the table or chain is absent). */
export async function portMapperHandles(
  r: Pick<PortMapperRules, 'chain' | 'containerId'>,
  opts?: RunOptions,
): Promise<number[]> {
  const { chain, id } = checked(r);
  if (!(await nftTableExists(PORT_MAPPER_TABLE, opts))) return [];
  let json: NftJson;
  try {
    json = await runJson<NftJson>(
      'nft',
      ['-j', '-a', 'list', 'chain', 'inet', PORT_MAPPER_TABLE, chain],
      opts,
    );
  } catch {
    return [];
  }
  const handles: number[] = [];
  for (const item of json.nftables) {
    const rule = item.rule as { comment?: unknown; handle?: unknown } | undefined;
    if (rule && rule.comment === tag(id) && typeof rule.handle === 'number') handles.push(rule.handle);
  }
  return handles;
}

export async function portMapperAdd(r: PortMapperRules, opts?: RunOptions): Promise<void> {
  await nftApply(renderPortMapperAdd(r, await portMapperHandles(r, opts)), opts);
}

/** DEL: removes this container's rules; the chain stays (others may be adding to it, as in Mesos). */
export async function portMapperDelete(
  r: Pick<PortMapperRules, 'chain' | 'containerId'>,
  opts?: RunOptions,
): Promise<void> {
  const { chain } = checked(r);
  const handles = await portMapperHandles(r, opts);
  if (handles.length === 0) return;
  await nftApply(
    `${handles.map((h) => `delete rule inet ${PORT_MAPPER_TABLE} ${chain} handle ${h}`).join('\n')}\n`,
    opts,
  );
}
