// The Docker network of an overlay's Docker half (specs/overlay.md §4.5): named after the overlay,
// bridge d-<name>, no masquerading (dcnet's nftables rule does that), the overlay MTU. An existing
// network is checked against what it should be (the original reused it blindly, bug B7).
import type { DockerNetwork, NetworkCreate } from '../../kernel/index.js';
import type { IpCidr } from '../../net/index.js';
import type { ParsedAgentOverlay } from '../types.js';

export function dockerNetworkSpec(
  overlay: ParsedAgentOverlay,
  mtu: number,
  enableIpv6: boolean,
): NetworkCreate | undefined {
  const bridge = overlay.docker_bridge;
  if (!bridge) return undefined;
  const v6 = enableIpv6 ? bridge.ip6 : undefined;
  const subnets: IpCidr[] = [
    ...(bridge.ip !== undefined ? [bridge.ip] : []),
    ...(v6 !== undefined ? [v6] : []),
  ];
  if (subnets.length === 0) return undefined;
  return {
    Name: overlay.info.name,
    Driver: 'bridge',
    CheckDuplicate: true,
    EnableIPv6: v6 !== undefined,
    IPAM: { Driver: 'default', Config: subnets.map((Subnet) => ({ Subnet })) },
    Options: {
      'com.docker.network.bridge.name': bridge.name,
      'com.docker.network.bridge.enable_ip_masquerade': 'false',
      'com.docker.network.driver.mtu': `${mtu}`,
    },
  };
}

/** What differs between an existing network and the spec; empty when it can be used. */
export function dockerNetworkDifferences(existing: DockerNetwork, spec: NetworkCreate): string[] {
  const out: string[] = [];
  const have = new Set<string>((existing.IPAM.Config ?? []).map((c) => c.Subnet ?? ''));
  for (const { Subnet } of spec.IPAM.Config)
    if (!have.has(Subnet)) out.push(`subnet ${Subnet} missing (has ${[...have].join(', ') || 'none'})`);
  const bridgeKey = 'com.docker.network.bridge.name';
  if (existing.Options[bridgeKey] !== spec.Options[bridgeKey]) {
    out.push(
      `bridge name is ${existing.Options[bridgeKey] ?? '(docker default)'}, not ${spec.Options[bridgeKey]}`,
    );
  }
  if (existing.Driver !== 'bridge') out.push(`driver is ${existing.Driver}, not bridge`);
  return out;
}
