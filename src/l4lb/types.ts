// The VIP table: what the leading master derives from Mesos state and publishes, one store key
// per VIP under `l4lb/vips/`, and what every agent programs and every DNS server names. A value
// read from the store is parsed into typed fields (addresses, ports, label text under a grammar)
// before anything uses it; a VIP that does not parse is refused alone, naming key and field.
import { z } from 'zod';
import { describeIssues, ipFamily, zIpAddr, zLabelText, zPort } from '../net/index.js';

export const L4LB_PREFIX = 'l4lb/';
export const VIPS_PREFIX = 'l4lb/vips/';
/** Label errors of the last derivation (for operators; the data plane ignores it). */
export const L4LB_ERRORS_KEY = 'l4lb/errors';

const port = zPort;
/** Task ids and names are shown and hashed, never put into a command: bounded printable text. */
const text = zLabelText(1024);

export const backendSchema = z.object({
  /** Address and port new connections are sent to. */
  ip: zIpAddr,
  port,
  /** Share of new connections relative to the VIP's other backends (1 = probation, 2 = full). */
  weight: z.number().int().min(1).max(100),
  /** The agent running the task (its underlay IP). */
  agent: zIpAddr,
  task: text,
  /** Bridge port mapping: on `agent` itself the host-port DNAT is skipped by ours, so that node
   *  sends to the container directly (dcos-net's local port-mapping substitution). */
  local: z.object({ ip: zIpAddr, port }).optional(),
});

export const vipSchema = z
  .object({
    protocol: z.enum(['tcp', 'udp']),
    ip: zIpAddr,
    port,
    family: z.union([z.literal(4), z.literal(6)]),
    /** Named VIPs: the label as written and the framework's name. */
    name: z.object({ label: text, framework: text }).optional(),
    /** Client-IP affinity: a client address always maps to the same backend while the set holds. */
    affinity: z.boolean().optional(),
    backends: z.array(backendSchema),
  })
  .superRefine((v, ctx) => {
    // One family per VIP: the kernel's maps are typed per family, and a mixed entry would make the
    // whole table fail to load.
    const check = (ip: string, path: (string | number)[]): void => {
      if (ipFamily(ip as never) !== v.family)
        ctx.addIssue({
          code: 'custom',
          path,
          message: `${ip} is not an IPv${v.family} address like the VIP`,
        });
    };
    check(v.ip, ['ip']);
    v.backends.forEach((b, i) => {
      check(b.ip, ['backends', i, 'ip']);
      if (b.local) check(b.local.ip, ['backends', i, 'local', 'ip']);
    });
  });

/** A VIP as the master derives and publishes it (JSON of plain strings and numbers). */
export type Backend = z.input<typeof backendSchema>;
export type Vip = z.input<typeof vipSchema>;
/** A VIP as an agent read it back: every field parsed (branded addresses and ports). */
export type ParsedBackend = z.output<typeof backendSchema>;
export type ParsedVip = z.output<typeof vipSchema>;

/** The derived table: VIPs in key order. */
export interface VipTable {
  readonly vips: readonly Vip[];
}

/** A table read from the store (what a node programs and names). */
export interface ParsedVipTable {
  readonly vips: readonly ParsedVip[];
}

/** `tcp/11.0.0.37/80`: the store key suffix and the identity of a VIP. */
export const vipKey = (v: Pick<Vip, 'protocol' | 'ip' | 'port'>): string => `${v.protocol}/${v.ip}/${v.port}`;

/** Why a published VIP was refused: the field (zod path, or `key`) and what is wrong with it. */
export interface VipProblem {
  readonly field: string;
  readonly problem: string;
}

/** Reads one published VIP; undefined (with the reasons) when it does not fit. */
export function parseVipJson(text: string): { vip?: ParsedVip; problems?: VipProblem[]; problem?: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { problems: [{ field: '(value)', problem: 'not JSON' }], problem: 'not JSON' };
  }
  const r = vipSchema.safeParse(doc);
  if (!r.success) {
    const problems = describeIssues(r.error);
    return { problems, problem: problems.map((p) => `${p.field}: ${p.problem}`).join('; ') };
  }
  return { vip: r.data };
}

/** One store entry: the value parsed, and its key checked to be the VIP's own (`l4lb/vips/<key>`),
 *  so that one VIP cannot sit under another's key. */
export function parseVipEntry(key: string, value: string): { vip?: ParsedVip; problems?: VipProblem[] } {
  const { vip, problems } = parseVipJson(value);
  if (!vip) return { problems: problems! };
  if (key !== `${VIPS_PREFIX}${vipKey(vip)}`)
    return {
      problems: [{ field: 'key', problem: `is not ${VIPS_PREFIX}${vipKey(vip)}, the VIP's own key` }],
    };
  return { vip };
}

/** A derived table as an agent would read it back; throws on the first VIP that does not parse
 *  (for callers that hold a table they made themselves: tests, benchmarks, the demo). */
export function parseVipTable(t: VipTable): ParsedVipTable {
  return { vips: t.vips.map((v) => vipSchema.parse(v)) };
}

/** The table from the store's `l4lb/vips/` keys (DNS servers and agents read it this way). */
export function vipTableFromKvs(kvs: readonly { key: string; value: string }[]): {
  table: ParsedVipTable;
  problems: { key: string; problem: string }[];
} {
  const vips: ParsedVip[] = [];
  const problems: { key: string; problem: string }[] = [];
  for (const kv of kvs) {
    if (!kv.key.startsWith(VIPS_PREFIX)) continue;
    const r = parseVipEntry(kv.key, kv.value);
    if (r.vip) vips.push(r.vip);
    else
      problems.push({ key: kv.key, problem: r.problems!.map((p) => `${p.field}: ${p.problem}`).join('; ') });
  }
  vips.sort((a, b) => (vipKey(a) < vipKey(b) ? -1 : vipKey(a) > vipKey(b) ? 1 : 0));
  return { table: { vips }, problems };
}
