import { parseConfig, type NetworkConfig } from '../../src/config/index.js';
import { OverlayMaster, type AgentInfo } from '../../src/overlay/index.js';
import type { Store } from '../../src/store/index.js';
import { testLogger } from './log.js';

export function networkConfig(doc: unknown): NetworkConfig {
  return parseConfig(doc).network;
}

export function startMaster(config: NetworkConfig, store: Store): Promise<OverlayMaster> {
  return OverlayMaster.start(config, store, testLogger());
}

export async function register(
  master: OverlayMaster,
  ip: string,
  bridges: { mesos?: boolean; docker?: boolean; allocate?: boolean } = {},
): Promise<AgentInfo> {
  const { info } = await master.register({
    ip,
    mesosBridge: bridges.mesos ?? true,
    dockerBridge: bridges.docker ?? true,
    allocateSubnet: bridges.allocate ?? true,
  });
  return info;
}

/** The agent's acknowledgement that every overlay is configured. */
export function ackAll(master: OverlayMaster, info: AgentInfo): void {
  master.acknowledge(
    info.ip,
    (info.overlays ?? []).map((o) => ({ name: o.info.name, status: 'STATUS_OK' as const })),
  );
}
