// Wire types of the DC/OS overlay API (specs/overlay.md §1: proto field names, snake_case) and the
// allocation record dcnet keeps per agent in the store.
import { z } from 'zod';
import {
  describeIssues,
  zIfName,
  zIpv4,
  zIpv4Cidr,
  zIpv6Cidr,
  zMac,
  zOverlayName,
  type RejectedFieldLike,
} from '../net/index.js';

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
/** Each agent's own status (what it refused, what the kernel refused), for `dcnet status`. */
export const NODE_STATUS_PREFIX = 'overlay/node-status/';
export const nodeStatusKey = (ip: string): string => `${NODE_STATUS_PREFIX}${ip}`;
export const NETWORK_KEY = 'overlay/network';
export const agentKey = (ip: string): string => `${AGENTS_PREFIX}${ip}`;
/** Since when an allocated agent's node entry has been gone (`{"since": ms}`), written by the
 *  master beside the allocation so that a master restart does not reset the GC clock. */
export const AGENT_GONE_PREFIX = 'overlay/agent-gone/';
export const agentGoneKey = (ip: string): string => `${AGENT_GONE_PREFIX}${ip}`;

/** AgentInfo as the master answers it, parsed where it enters the agent: every field that becomes
 *  a device, address, route, file or Docker network is a typed value. Overlays are parsed one by
 *  one, so that one bad overlay in an answer is refused alone and the others are configured. */
const bridgeSchema = z.object({ name: zIfName, ip: zIpv4Cidr.optional(), ip6: zIpv6Cidr.optional() });
const int = z.number().int();
export const agentOverlaySchema = z
  .object({
    info: z.object({
      name: zOverlayName,
      subnet: zIpv4Cidr.optional(),
      prefix: int.min(0).max(32).optional(),
      subnet6: zIpv6Cidr.optional(),
      prefix6: int.min(0).max(128).optional(),
      enabled: z.boolean().default(true),
    }),
    subnet: zIpv4Cidr.optional(),
    subnet6: zIpv6Cidr.optional(),
    mesos_bridge: bridgeSchema.optional(),
    docker_bridge: bridgeSchema.optional(),
    backend: z.object({
      vxlan: z.object({
        vni: int.min(1).max(0xff_ffff),
        vtep_name: z.literal(VTEP_NAME),
        vtep_ip: zIpv4Cidr,
        vtep_mac: zMac,
        vtep_ip6: zIpv6Cidr.optional(),
        vtep_mtu: int.min(552).max(65535).optional(),
      }),
    }),
    state: z.object({ status: z.enum(OVERLAY_STATUSES), error: z.string().optional() }).optional(),
  })
  .superRefine((o, ctx) => {
    // The bridges are the overlay's own (m-<name>, d-<name>): an answer cannot name another device.
    if (o.mesos_bridge && o.mesos_bridge.name !== mesosBridgeName(o.info.name))
      ctx.addIssue({
        code: 'custom',
        path: ['mesos_bridge', 'name'],
        message: `must be ${mesosBridgeName(o.info.name)}`,
      });
    if (o.docker_bridge && o.docker_bridge.name !== dockerBridgeName(o.info.name))
      ctx.addIssue({
        code: 'custom',
        path: ['docker_bridge', 'name'],
        message: `must be ${dockerBridgeName(o.info.name)}`,
      });
  });

const agentInfoTopSchema = z.object({
  ip: zIpv4,
  configuration_attempts: int.optional(),
  overlays: z.array(z.unknown()).optional(),
});

export type ParsedAgentOverlay = z.output<typeof agentOverlaySchema>;
export interface ParsedAgentInfo {
  ip: z.output<typeof zIpv4>;
  configuration_attempts?: number;
  overlays?: ParsedAgentOverlay[];
}

/** One refused part of an answer: `overlays.1` and its fields. */
export interface RejectedPart {
  readonly part: string;
  readonly fields: readonly RejectedFieldLike[];
}

/** Parses a master's AgentInfo answer: undefined `info` when the answer as a whole is unusable. */
export function parseAgentInfo(doc: unknown): { info?: ParsedAgentInfo; rejected: RejectedPart[] } {
  const top = agentInfoTopSchema.safeParse(doc);
  if (!top.success) return { rejected: [{ part: 'answer', fields: describeIssues(top.error) }] };
  const rejected: RejectedPart[] = [];
  const overlays: ParsedAgentOverlay[] = [];
  (top.data.overlays ?? []).forEach((o, i) => {
    const r = agentOverlaySchema.safeParse(o);
    if (r.success) overlays.push(r.data);
    else rejected.push({ part: `overlays.${i}`, fields: describeIssues(r.error) });
  });
  const { overlays: _raw, ...rest } = top.data;
  return {
    info: { ...rest, ...(top.data.overlays !== undefined && { overlays }) },
    rejected,
  };
}

/** What an agent publishes about itself at `overlay/node-status/<ip>` (parsed by the masters for
 *  `dcnet status`: it is another node's text, so it is bounded and shown escaped). */
const statusText = z.string().max(600);
export const nodeStatusSchema = z.object({
  ip: zIpv4,
  updated: statusText,
  /** How many keys are refused (the list below may be cut short). */
  rejected_keys: z.number().int().min(0).optional(),
  rejected: z
    .array(
      z.object({
        source: statusText,
        key: statusText,
        field: statusText,
        problem: statusText,
        since: statusText,
      }),
    )
    .max(1000),
  dataplane: z.object({
    error: statusText.optional(),
    failures: z.array(z.object({ line: statusText, error: statusText })).max(100),
  }),
  /** Where the node's resolv.conf points: the node DNS, the upstreams (it failed), or not managed. */
  resolv_conf: z.enum(['local', 'upstream', 'unmanaged']).optional(),
  /** Each overlay's configuration outcome on the node (STATUS_OK, or STATUS_FAILED and why). */
  overlays: z
    .array(z.object({ name: statusText, status: z.enum(OVERLAY_STATUSES), error: statusText.optional() }))
    .max(100)
    .optional(),
});
export type NodeStatus = z.output<typeof nodeStatusSchema>;
