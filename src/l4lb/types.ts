// The VIP table: what the leading master derives from Mesos state and publishes, one store key
// per VIP under `l4lb/vips/`, and what every agent programs and every DNS server names.
import { z } from 'zod';

export const L4LB_PREFIX = 'l4lb/';
export const VIPS_PREFIX = 'l4lb/vips/';
/** Label errors of the last derivation (for operators; the data plane ignores it). */
export const L4LB_ERRORS_KEY = 'l4lb/errors';

const port = z.number().int().min(1).max(65535);

export const backendSchema = z.object({
  /** Address and port new connections are sent to. */
  ip: z.string(),
  port,
  /** Share of new connections relative to the VIP's other backends (1 = probation, 2 = full). */
  weight: z.number().int().min(1).max(100),
  /** The agent running the task (its underlay IP). */
  agent: z.string(),
  task: z.string(),
  /** Bridge port mapping: on `agent` itself the host-port DNAT is skipped by ours, so that node
   *  sends to the container directly (dcos-net's local port-mapping substitution). */
  local: z.object({ ip: z.string(), port }).optional(),
});

export const vipSchema = z.object({
  protocol: z.enum(['tcp', 'udp']),
  ip: z.string(),
  port,
  family: z.union([z.literal(4), z.literal(6)]),
  /** Named VIPs: the label as written and the framework's name. */
  name: z.object({ label: z.string(), framework: z.string() }).optional(),
  /** Client-IP affinity: a client address always maps to the same backend while the set holds. */
  affinity: z.boolean().optional(),
  backends: z.array(backendSchema),
});

export type Backend = z.infer<typeof backendSchema>;
export type Vip = z.infer<typeof vipSchema>;

/** The derived table: VIPs in key order. */
export interface VipTable {
  readonly vips: readonly Vip[];
}

/** `tcp/11.0.0.37/80`: the store key suffix and the identity of a VIP. */
export const vipKey = (v: Pick<Vip, 'protocol' | 'ip' | 'port'>): string => `${v.protocol}/${v.ip}/${v.port}`;

/** Reads one published VIP; undefined (with the reason) when it does not fit. */
export function parseVipJson(text: string): { vip?: Vip; problem?: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { problem: 'not JSON' };
  }
  const r = vipSchema.safeParse(doc);
  if (!r.success)
    return { problem: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { vip: r.data };
}

/** The table from the store's `l4lb/vips/` keys (DNS servers and agents read it this way). */
export function vipTableFromKvs(kvs: readonly { key: string; value: string }[]): {
  table: VipTable;
  problems: { key: string; problem: string }[];
} {
  const vips: Vip[] = [];
  const problems: { key: string; problem: string }[] = [];
  for (const kv of kvs) {
    if (!kv.key.startsWith(VIPS_PREFIX)) continue;
    const { vip, problem } = parseVipJson(kv.value);
    if (vip) vips.push(vip);
    else problems.push({ key: kv.key, problem: problem! });
  }
  vips.sort((a, b) => (vipKey(a) < vipKey(b) ? -1 : vipKey(a) > vipKey(b) ? 1 : 0));
  return { table: { vips }, problems };
}
