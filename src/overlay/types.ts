// Wire types of the DC/OS overlay API (specs/overlay.md §1: proto field names, snake_case) and the
// allocation record dcnet keeps per agent in the store.
import { z } from 'zod';

export const VNI = 1024;
export const VTEP_NAME = 'vtep1024';
export const mesosBridgeName = (overlay: string): string => `m-${overlay}`;
export const dockerBridgeName = (overlay: string): string => `d-${overlay}`;

export type OverlayStatus = 'STATUS_INVALID' | 'STATUS_OK' | 'STATUS_FAILED' | 'STATUS_CONFIGURING';
export const OVERLAY_STATUSES = [
  'STATUS_INVALID',
  'STATUS_OK',
  'STATUS_FAILED',
  'STATUS_CONFIGURING',
] as const;

export interface BridgeInfo {
  name: string;
  ip?: string;
  ip6?: string;
}

export interface VxlanInfo {
  vni: number;
  vtep_name: string;
  vtep_ip: string;
  vtep_mac: string;
  vtep_ip6?: string;
  vtep_mtu?: number;
}

export interface OverlayInfo {
  name: string;
  subnet?: string;
  prefix?: number;
  subnet6?: string;
  prefix6?: number;
  enabled: boolean;
}

export interface AgentOverlayInfo {
  info: OverlayInfo;
  subnet?: string;
  subnet6?: string;
  mesos_bridge?: BridgeInfo;
  docker_bridge?: BridgeInfo;
  backend: { vxlan: VxlanInfo };
  state?: { status: OverlayStatus; error?: string };
}

export interface AgentInfo {
  ip: string;
  overlays?: AgentOverlayInfo[];
  configuration_attempts?: number;
}

/** What the master stores per agent: the allocation facts only; AgentInfo is derived from them
 *  and the current config, so one node has one backend in every overlay (fixes bug B3). */
export const agentRecordSchema = z
  .object({
    ip: z.string(),
    vtep: z.object({ ip: z.string(), ip6: z.string().optional(), mac: z.string() }).strict(),
    overlays: z.array(
      z
        .object({
          name: z.string(),
          subnet: z.string().optional(),
          subnet6: z.string().optional(),
          mesos_bridge: z.boolean(),
          docker_bridge: z.boolean(),
        })
        .strict(),
    ),
  })
  .strict();

export type AgentRecord = z.infer<typeof agentRecordSchema>;
export type AgentOverlayRecord = AgentRecord['overlays'][number];

/** Store keys: allocations (written by the master) and published node info (by each agent,
 *  under a lease, read by every agent to program its data plane). */
export const AGENTS_PREFIX = 'overlay/agents/';
export const NODES_PREFIX = 'overlay/nodes/';
export const nodeKey = (ip: string): string => `${NODES_PREFIX}${ip}`;
/** A per-agent status document each agent may publish about itself. */
export const NODE_STATUS_PREFIX = 'overlay/node-status/';
export const nodeStatusKey = (ip: string): string => `${NODE_STATUS_PREFIX}${ip}`;
export const NETWORK_KEY = 'overlay/network';
export const agentKey = (ip: string): string => `${AGENTS_PREFIX}${ip}`;

/** AgentInfo as the master answers it: validated where it enters the agent. */
const bridgeSchema = z.object({ name: z.string(), ip: z.string().optional(), ip6: z.string().optional() });
export const agentInfoSchema = z.object({
  ip: z.string(),
  configuration_attempts: z.number().int().optional(),
  overlays: z
    .array(
      z.object({
        info: z.object({
          name: z.string(),
          subnet: z.string().optional(),
          prefix: z.number().int().optional(),
          subnet6: z.string().optional(),
          prefix6: z.number().int().optional(),
          enabled: z.boolean().default(true),
        }),
        subnet: z.string().optional(),
        subnet6: z.string().optional(),
        mesos_bridge: bridgeSchema.optional(),
        docker_bridge: bridgeSchema.optional(),
        backend: z.object({
          vxlan: z.object({
            vni: z.number().int(),
            vtep_name: z.string(),
            vtep_ip: z.string(),
            vtep_mac: z.string(),
            vtep_ip6: z.string().optional(),
            vtep_mtu: z.number().int().optional(),
          }),
        }),
        state: z.object({ status: z.enum(OVERLAY_STATUSES), error: z.string().optional() }).optional(),
      }),
    )
    .optional(),
});
