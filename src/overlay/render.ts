// Derives the DC/OS AgentInfo and State documents (specs/overlay.md §1) from allocation records
// and the current config. Pure; the JSON text is stout's (sorted keys, '\/').
import type { NetworkConfig, OverlayDef } from '../config/index.js';
import { formatCidr, halves, parseCidr, stoutStringify, type Json } from '../net/index.js';
import {
  dockerBridgeName,
  mesosBridgeName,
  VNI,
  VTEP_NAME,
  type AgentInfo,
  type AgentOverlayInfo,
  type AgentRecord,
  type BridgeInfo,
  type OverlayInfo,
  type OverlayStatus,
  type VxlanInfo,
} from './types.js';

export function renderBackend(record: AgentRecord, config: NetworkConfig): { vxlan: VxlanInfo } {
  return {
    vxlan: {
      vni: VNI,
      vtep_name: VTEP_NAME,
      vtep_ip: `${record.vtep.ip}/${config.vtep4.prefix}`,
      vtep_mac: record.vtep.mac,
      ...(record.vtep.ip6 !== undefined &&
        config.vtep6 && { vtep_ip6: `${record.vtep.ip6}/${config.vtep6.prefix}` }),
      ...(config.vtepMtu !== undefined && { vtep_mtu: config.vtepMtu }),
    },
  };
}

export function renderOverlayInfo(def: OverlayDef): OverlayInfo {
  return {
    name: def.name,
    ...(def.v4 && { subnet: formatCidr(def.v4.subnet), prefix: def.v4.prefix }),
    ...(def.v6 && { subnet6: formatCidr(def.v6.subnet), prefix6: def.v6.prefix }),
    enabled: def.enabled,
  };
}

/** Lower half for the Mesos bridge, upper half for Docker (even when Mesos is not requested). */
function bridges(
  name: string,
  subnet: string | undefined,
  subnet6: string | undefined,
  mesos: boolean,
  docker: boolean,
): { mesos_bridge?: BridgeInfo; docker_bridge?: BridgeInfo } {
  const h4 = subnet !== undefined ? halves(parseCidr(subnet)!) : undefined;
  const h6 = subnet6 !== undefined ? halves(parseCidr(subnet6)!) : undefined;
  const bridge = (bridgeName: string, half: 0 | 1): BridgeInfo => ({
    name: bridgeName,
    ...(h4 && { ip: formatCidr(h4[half]) }),
    ...(h6 && { ip6: formatCidr(h6[half]) }),
  });
  return {
    ...(mesos && { mesos_bridge: bridge(mesosBridgeName(name), 0) }),
    ...(docker && { docker_bridge: bridge(dockerBridgeName(name), 1) }),
  };
}

export function renderAgentInfo(
  record: AgentRecord,
  config: NetworkConfig,
  statuses?: ReadonlyMap<string, OverlayStatus>,
): AgentInfo {
  const backend = renderBackend(record, config);
  const defs = new Map<string, OverlayDef>(config.overlays.map((d) => [d.name, d]));
  const overlays = record.overlays.map((o): AgentOverlayInfo => {
    const def = defs.get(o.name)!;
    const status = statuses?.get(o.name);
    return {
      info: renderOverlayInfo(def),
      ...(o.subnet !== undefined && { subnet: o.subnet }),
      ...(o.subnet6 !== undefined && { subnet6: o.subnet6 }),
      ...bridges(o.name, o.subnet, o.subnet6, o.mesos_bridge, o.docker_bridge),
      backend,
      ...(status && { state: { status } }),
    };
  });
  return { ip: record.ip, ...(overlays.length > 0 && { overlays }) };
}

export function agentInfoJson(info: AgentInfo): string {
  return stoutStringify(info as unknown as Json);
}

export function networkJson(config: NetworkConfig): string {
  return stoutStringify(config.raw as unknown as Json);
}

/** The State document from already-rendered agent fragments (cached by the caller). */
export function stateJson(agentFragments: readonly string[], network: string): string {
  return agentFragments.length > 0
    ? `{"agents":[${agentFragments.join(',')}],"network":${network}}`
    : `{"network":${network}}`;
}
