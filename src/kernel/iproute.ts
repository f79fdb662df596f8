// iproute2 as typed commands: callers describe what they want (a route, a neighbour, an FDB entry)
// as a discriminated union, and this module renders the `ip -batch` / `bridge -batch` lines itself,
// re-checking every field against its type first, so no caller ever builds command text. Reads
// come back from `ip -j` parsed into the same typed values; entries the kernel prints that do not
// parse (names or addresses dcnet never makes) are left out, so dcnet never acts on them.
import {
  hostCidr,
  isIfName,
  isIpAddr,
  isIpCidr,
  isIpv4,
  isMac,
  isPort,
  parseIfName,
  parseIpAddr,
  parseIpCidr,
  parseMac,
  InputError,
  type IfName,
  type IpAddr,
  type IpCidr,
  type Ipv4,
  type Mac,
  type Port,
} from '../net/index.js';
import { KernelError, need, needInt, run, runJson, type RunOptions } from './exec.js';

// ---- commands ------------------------------------------------------------------------------------

/** `ip` commands dcnet issues. Numbers are range-checked, everything else is a branded value. */
export type IpCommand =
  /** A VXLAN device without learning and without outer UDP checksums (as dcos-net makes it). */
  | {
      readonly op: 'link-add-vxlan';
      readonly name: IfName;
      readonly vni: number;
      readonly port: Port;
      readonly local: Ipv4;
    }
  | { readonly op: 'link-del'; readonly name: IfName }
  | {
      readonly op: 'link-set';
      readonly name: IfName;
      readonly address?: Mac;
      readonly mtu?: number;
      readonly up?: true;
    }
  | {
      readonly op: 'addr-add' | 'addr-replace' | 'addr-del';
      readonly dev: IfName;
      readonly addr: IpCidr;
      /** IPv6: skip duplicate address detection (the address is usable at once). */
      readonly nodad?: true;
    }
  /** Permanent neighbour entry. */
  | { readonly op: 'neigh-replace'; readonly dst: IpAddr; readonly lladdr: Mac; readonly dev: IfName }
  | { readonly op: 'neigh-del'; readonly dst: IpAddr; readonly dev: IfName }
  | {
      readonly op: 'route-replace';
      readonly dst: IpCidr;
      readonly via?: IpAddr;
      readonly dev: IfName;
      readonly src?: IpAddr;
      /** Omitted: the main table. */
      readonly table?: number;
      /** Marks the routes a subsystem owns (read back with `proto N`). */
      readonly proto: number;
    }
  | { readonly op: 'route-del'; readonly dst: IpCidr; readonly table?: number; readonly proto: number }
  | { readonly op: 'rule-add' | 'rule-del'; readonly from: IpCidr; readonly table: number };

/** `bridge` commands: unicast FDB entries of a VXLAN device (`self`). */
export type BridgeCommand =
  | { readonly op: 'fdb-replace'; readonly mac: Mac; readonly dev: IfName; readonly dst: IpAddr }
  | { readonly op: 'fdb-del'; readonly mac: Mac; readonly dev: IfName; readonly dst: IpAddr };

const MAX_U32 = 0xffff_ffff;
const isTrue = (v: unknown): v is true => v === true;
const refuse = (cmd: string, field: string, value: unknown): never =>
  need((_v: unknown): _v is never => false, value, cmd, field);
const table = (c: string, t: number | undefined): string =>
  t === undefined ? '' : ` table ${needInt(t, 1, MAX_U32, c, 'table')}`;

/** One batch line; throws KernelInputError when a field is not what its type says. */
export function renderIpCommand(cmd: IpCommand): string {
  const c = `ip ${cmd.op}`;
  switch (cmd.op) {
    case 'link-add-vxlan':
      return (
        `link add ${need(isIfName, cmd.name, c, 'name')} type vxlan id ${needInt(cmd.vni, 1, 0xff_ffff, c, 'vni')}` +
        ` dstport ${need(isPort, cmd.port, c, 'port')} local ${need(isIpv4, cmd.local, c, 'local')} nolearning noudpcsum`
      );
    case 'link-del':
      return `link del ${need(isIfName, cmd.name, c, 'name')}`;
    case 'link-set': {
      const parts = [`link set ${need(isIfName, cmd.name, c, 'name')}`];
      if (cmd.address !== undefined) parts.push(`address ${need(isMac, cmd.address, c, 'address')}`);
      if (cmd.mtu !== undefined) parts.push(`mtu ${needInt(cmd.mtu, 68, 65535, c, 'mtu')}`);
      if (cmd.up !== undefined) parts.push(need(isTrue, cmd.up, c, 'up') && 'up');
      if (parts.length === 1) refuse(c, 'address/mtu/up', undefined);
      return parts.join(' ');
    }
    case 'addr-add':
    case 'addr-replace':
    case 'addr-del': {
      const verb = cmd.op.slice(5);
      const nodad = cmd.nodad === undefined ? '' : need(isTrue, cmd.nodad, c, 'nodad') && ' nodad';
      return `addr ${verb} ${need(isIpCidr, cmd.addr, c, 'addr')} dev ${need(isIfName, cmd.dev, c, 'dev')}${nodad}`;
    }
    case 'neigh-replace':
      return (
        `neigh replace ${need(isIpAddr, cmd.dst, c, 'dst')} lladdr ${need(isMac, cmd.lladdr, c, 'lladdr')}` +
        ` dev ${need(isIfName, cmd.dev, c, 'dev')} nud permanent`
      );
    case 'neigh-del':
      return `neigh del ${need(isIpAddr, cmd.dst, c, 'dst')} dev ${need(isIfName, cmd.dev, c, 'dev')}`;
    case 'route-replace': {
      const via = cmd.via === undefined ? '' : ` via ${need(isIpAddr, cmd.via, c, 'via')}`;
      const src = cmd.src === undefined ? '' : ` src ${need(isIpAddr, cmd.src, c, 'src')}`;
      return (
        `route replace ${need(isIpCidr, cmd.dst, c, 'dst')}${via} dev ${need(isIfName, cmd.dev, c, 'dev')}${src}` +
        `${table(c, cmd.table)} proto ${needInt(cmd.proto, 1, 255, c, 'proto')}`
      );
    }
    case 'route-del':
      return `route del ${need(isIpCidr, cmd.dst, c, 'dst')}${table(c, cmd.table)} proto ${needInt(cmd.proto, 1, 255, c, 'proto')}`;
    case 'rule-add':
    case 'rule-del':
      return `rule ${cmd.op.slice(5)} from ${need(isIpCidr, cmd.from, c, 'from')} lookup ${needInt(cmd.table, 1, MAX_U32, c, 'table')}`;
    default:
      return refuse('ip', 'op', (cmd as { op: unknown }).op);
  }
}

export function renderBridgeCommand(cmd: BridgeCommand): string {
  const c = `bridge ${cmd.op}`;
  const entry = `${need(isMac, cmd.mac, c, 'mac')} dev ${need(isIfName, cmd.dev, c, 'dev')} dst ${need(isIpAddr, cmd.dst, c, 'dst')} self`;
  switch (cmd.op) {
    case 'fdb-replace':
      return `fdb replace ${entry} permanent`;
    case 'fdb-del':
      return `fdb del ${entry}`;
    default:
      return refuse('bridge', 'op', (cmd as { op: unknown }).op);
  }
}

// ---- batches -------------------------------------------------------------------------------------

/** One command of a batch the kernel refused; the others of the batch were applied. */
export interface BatchFailure<C> {
  readonly command: C;
  readonly line: string;
  readonly error: string;
}

export interface BatchResult<C> {
  readonly lines: readonly string[];
  readonly failures: readonly BatchFailure<C>[];
}

/** With `-force`, iproute2 goes on after a failing line and reports each as "Command failed -:N"
 *  after the tool's message for it: which lines failed, and why. */
export function batchFailures(stderr: string): Map<number, string> {
  const out = new Map<number, string>();
  let message: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)\s*$/.exec(line);
    if (m) {
      out.set(Number(m[1]), message.join(' ').trim() || 'failed');
      message = [];
    } else if (line.trim() !== '') message.push(line.trim());
  }
  return out;
}

async function batch<C>(
  tool: 'ip' | 'bridge',
  cmds: readonly C[],
  render: (c: C) => string,
  opts: RunOptions | undefined,
): Promise<BatchResult<C>> {
  // Every line is rendered (and checked) before anything runs: a refused field stops the batch.
  const lines = cmds.map(render);
  if (lines.length === 0) return { lines, failures: [] };
  try {
    await run(tool, ['-force', '-batch', '-'], { ...opts, input: `${lines.join('\n')}\n` });
    return { lines, failures: [] };
  } catch (err) {
    if (!(err instanceof KernelError) || err.code === null) throw err;
    const failed = batchFailures(err.stderr);
    // Without line numbers the outcome is unknown: the caller reads the kernel back.
    if (failed.size === 0) throw err;
    const failures = [...failed]
      .filter(([n]) => n >= 1 && n <= lines.length)
      .map(([n, error]) => ({ command: cmds[n - 1]!, line: lines[n - 1]!, error }));
    return { lines, failures };
  }
}

/** Applies `ip` commands in one process; `-force` so that one refused line does not stop the rest:
 *  the refused ones come back in `failures`. Throws when the batch as a whole failed. */
export function ipBatch(cmds: readonly IpCommand[], opts?: RunOptions): Promise<BatchResult<IpCommand>> {
  return batch('ip', cmds, renderIpCommand, opts);
}

export function bridgeBatch(
  cmds: readonly BridgeCommand[],
  opts?: RunOptions,
): Promise<BatchResult<BridgeCommand>> {
  return batch('bridge', cmds, renderBridgeCommand, opts);
}

// ---- reads ---------------------------------------------------------------------------------------

export interface LinkInfo {
  readonly ifname: string;
  readonly address: string;
  readonly mtu: number;
  readonly flags: readonly string[];
  readonly linkinfo?: {
    readonly info_kind?: string;
    readonly info_data?: {
      readonly id?: number;
      readonly port?: number;
      readonly local?: string;
      readonly learning?: boolean;
      readonly udp_csum?: boolean;
    };
  };
}

export interface NeighEntry {
  readonly dst: IpAddr;
  readonly lladdr?: Mac;
  readonly state?: readonly string[];
}

export interface FdbEntry {
  /** Unicast entries only: the all-zero default destinations and multicast entries are not dcnet's. */
  readonly mac: Mac;
  readonly dst?: IpAddr;
  readonly flags?: readonly string[];
  readonly state?: string;
}

export interface RouteEntry {
  /** Host routes (printed without a prefix) as /32 or /128. */
  readonly dst: IpCidr;
  readonly gateway?: IpAddr;
  readonly dev?: string;
  readonly table?: string;
  readonly protocol?: string;
}

export interface RuleEntry {
  readonly priority: number;
  /** The rule's source as a CIDR; absent for `from all`. */
  readonly from?: IpCidr;
  readonly table?: string;
}

export interface IfAddr {
  readonly family: 4 | 6;
  readonly local: IpAddr;
  readonly prefixlen: number;
  readonly scope: string;
  /** IPv6 still under duplicate address detection (not usable as a source yet). */
  readonly tentative: boolean;
  readonly dadfailed: boolean;
}

export interface LinkAddrs {
  readonly ifname: IfName;
  readonly addrs: readonly IfAddr[];
}

const ok = <T>(r: T | InputError): r is T => !(r instanceof InputError);
const opt = <T>(r: T | InputError): T | undefined => (ok(r) ? r : undefined);
type Json = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** `ip -j neigh` output, parsed. */
export function neighFromJson(rows: readonly Json[]): NeighEntry[] {
  return rows.flatMap((r) => {
    const dst = parseIpAddr(r.dst);
    if (!ok(dst)) return [];
    const lladdr = r.lladdr === undefined ? undefined : opt(parseMac(r.lladdr));
    const state = Array.isArray(r.state)
      ? r.state.filter((s): s is string => typeof s === 'string')
      : undefined;
    return [{ dst, ...(lladdr && { lladdr }), ...(state && { state }) }];
  });
}

/** `bridge -j fdb` output, parsed (unicast entries only). */
export function fdbFromJson(rows: readonly Json[]): FdbEntry[] {
  return rows.flatMap((r) => {
    const mac = parseMac(r.mac);
    if (!ok(mac)) return [];
    const dst = r.dst === undefined ? undefined : opt(parseIpAddr(r.dst));
    const flags = Array.isArray(r.flags)
      ? r.flags.filter((s): s is string => typeof s === 'string')
      : undefined;
    const state = str(r.state);
    return [{ mac, ...(dst && { dst }), ...(flags && { flags }), ...(state !== undefined && { state }) }];
  });
}

/** `ip -j route` output, parsed; `default` and other non-address destinations are left out. */
export function routesFromJson(rows: readonly Json[]): RouteEntry[] {
  return rows.flatMap((r) => {
    const text = str(r.dst) ?? '';
    const dst = text.includes('/')
      ? parseIpCidr(text)
      : ((a) => (ok(a) ? hostCidr(a) : a))(parseIpAddr(text));
    if (!ok(dst)) return [];
    const gateway = r.gateway === undefined ? undefined : opt(parseIpAddr(r.gateway));
    const dev = str(r.dev);
    const tbl = str(r.table);
    const protocol = str(r.protocol);
    return [
      {
        dst,
        ...(gateway && { gateway }),
        ...(dev !== undefined && { dev }),
        ...(tbl !== undefined && { table: tbl }),
        ...(protocol !== undefined && { protocol }),
      },
    ];
  });
}

/** `ip -j rule` output, parsed. */
export function rulesFromJson(rows: readonly Json[]): RuleEntry[] {
  return rows.flatMap((r) => {
    if (typeof r.priority !== 'number') return [];
    const tbl = str(r.table);
    let from: IpCidr | undefined;
    if (r.src !== undefined && r.src !== 'all') {
      const addr = parseIpAddr(r.src);
      if (!ok(addr)) return [];
      const len = typeof r.srclen === 'number' ? r.srclen : addr.includes(':') ? 128 : 32;
      const cidr = parseIpCidr(`${addr}/${len}`);
      if (!ok(cidr)) return [];
      from = cidr;
    }
    return [{ priority: r.priority, ...(from && { from }), ...(tbl !== undefined && { table: tbl }) }];
  });
}

/** `ip -j addr` output, parsed: links whose names dcnet could not use are left out. */
export function addrsFromJson(rows: readonly Json[]): LinkAddrs[] {
  return rows.flatMap((l) => {
    const ifname = parseIfName(l.ifname);
    if (!ok(ifname)) return [];
    const info = Array.isArray(l.addr_info) ? (l.addr_info as Json[]) : [];
    const addrs = info.flatMap((a): IfAddr[] => {
      const local = parseIpAddr(a.local);
      if (!ok(local) || typeof a.prefixlen !== 'number') return [];
      return [
        {
          family: a.family === 'inet6' ? 6 : 4,
          local,
          prefixlen: a.prefixlen,
          scope: str(a.scope) ?? '',
          tentative: a.tentative === true,
          dadfailed: a.dadfailed === true,
        },
      ];
    });
    return [{ ifname, addrs }];
  });
}

export async function readLink(name: IfName, opts?: RunOptions): Promise<LinkInfo | undefined> {
  try {
    const links = await runJson<LinkInfo[]>(
      'ip',
      ['-j', '-d', 'link', 'show', 'dev', need(isIfName, name, 'ip link show', 'dev')],
      opts,
    );
    return links[0];
  } catch (err) {
    if (/does not exist|Cannot find device/.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** Global addresses of a device, as CIDRs. */
export async function readAddrs(dev: IfName, opts?: RunOptions): Promise<IpCidr[]> {
  const out = await runJson<Json[]>(
    'ip',
    ['-j', 'addr', 'show', 'dev', need(isIfName, dev, 'ip addr show', 'dev')],
    opts,
  );
  return (addrsFromJson(out)[0]?.addrs ?? [])
    .filter((a) => a.scope === 'global')
    .map((a) => parseIpCidr(`${a.local}/${a.prefixlen}`))
    .filter(ok);
}

/** Every link with its addresses. */
export async function readAllAddrs(opts?: RunOptions): Promise<LinkAddrs[]> {
  return addrsFromJson(await runJson<Json[]>('ip', ['-j', 'addr', 'show'], opts));
}

export async function readNeighbours(dev: IfName, opts?: RunOptions): Promise<NeighEntry[]> {
  const dv = need(isIfName, dev, 'ip neigh show', 'dev');
  return neighFromJson(await runJson<Json[]>('ip', ['-j', 'neigh', 'show', 'dev', dv], opts));
}

export async function readFdb(dev: IfName, opts?: RunOptions): Promise<FdbEntry[]> {
  const dv = need(isIfName, dev, 'bridge fdb show', 'dev');
  return fdbFromJson(await runJson<Json[]>('bridge', ['-j', 'fdb', 'show', 'dev', dv], opts));
}

/** Routes of one protocol number, both families, in every table or the main one. */
export async function readRoutes(
  proto: number,
  opts?: RunOptions,
  tables: 'all' | 'main' = 'all',
): Promise<RouteEntry[]> {
  const p = String(needInt(proto, 1, 255, 'ip route show', 'proto'));
  const scope = tables === 'all' ? ['table', 'all'] : [];
  const [v4, v6] = await Promise.all(
    ['-4', '-6'].map((f) => runJson<Json[]>('ip', ['-j', f, 'route', 'show', ...scope, 'proto', p], opts)),
  );
  return [...routesFromJson(v4!), ...routesFromJson(v6!)];
}

export async function readRules(opts?: RunOptions): Promise<RuleEntry[]> {
  return rulesFromJson(await runJson<Json[]>('ip', ['-j', '-4', 'rule', 'show'], opts));
}
