// Typed reads of iproute2's JSON output and batch writes (`ip -batch -`, `bridge -batch -`).
import { run, runJson, type RunOptions } from './exec.js';

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

export interface AddrInfo {
  readonly addr_info: readonly {
    readonly family: 'inet' | 'inet6';
    readonly local: string;
    readonly prefixlen: number;
    readonly scope: string;
  }[];
}

export interface NeighEntry {
  readonly dst: string;
  readonly lladdr?: string;
  readonly state?: readonly string[];
}

export interface FdbEntry {
  readonly mac: string;
  readonly dst?: string;
  readonly flags?: readonly string[];
  readonly state?: string;
}

export interface RouteEntry {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly table?: string;
  readonly protocol?: string;
}

export interface RuleEntry {
  readonly priority: number;
  readonly src?: string;
  readonly srclen?: number;
  readonly table?: string;
}

export async function readLink(name: string, opts?: RunOptions): Promise<LinkInfo | undefined> {
  try {
    const links = await runJson<LinkInfo[]>('ip', ['-j', '-d', 'link', 'show', 'dev', name], opts);
    return links[0];
  } catch (err) {
    if (/does not exist|Cannot find device/.test((err as Error).message)) return undefined;
    throw err;
  }
}

export async function readAddrs(dev: string, opts?: RunOptions): Promise<string[]> {
  const out = await runJson<AddrInfo[]>('ip', ['-j', 'addr', 'show', 'dev', dev], opts);
  return (out[0]?.addr_info ?? [])
    .filter((a) => a.scope === 'global')
    .map((a) => `${a.local}/${a.prefixlen}`);
}

export function readNeighbours(dev: string, opts?: RunOptions): Promise<NeighEntry[]> {
  return runJson<NeighEntry[]>('ip', ['-j', 'neigh', 'show', 'dev', dev], opts);
}

export function readFdb(dev: string, opts?: RunOptions): Promise<FdbEntry[]> {
  return runJson<FdbEntry[]>('bridge', ['-j', 'fdb', 'show', 'dev', dev], opts);
}

/** Routes of one protocol number in every table, both families. */
export async function readRoutes(proto: number, opts?: RunOptions): Promise<RouteEntry[]> {
  const [v4, v6] = await Promise.all([
    runJson<RouteEntry[]>('ip', ['-j', '-4', 'route', 'show', 'table', 'all', 'proto', String(proto)], opts),
    runJson<RouteEntry[]>('ip', ['-j', '-6', 'route', 'show', 'table', 'all', 'proto', String(proto)], opts),
  ]);
  return [...v4, ...v6];
}

export function readRules(opts?: RunOptions): Promise<RuleEntry[]> {
  return runJson<RuleEntry[]>('ip', ['-j', '-4', 'rule', 'show'], opts);
}

/** Applies `ip` commands in one process; `-force` so that one failure does not hide the rest. */
export async function ipBatch(lines: readonly string[], opts?: RunOptions): Promise<void> {
  if (lines.length === 0) return;
  await run('ip', ['-force', '-batch', '-'], { ...opts, input: `${lines.join('\n')}\n` });
}

export async function bridgeBatch(lines: readonly string[], opts?: RunOptions): Promise<void> {
  if (lines.length === 0) return;
  await run('bridge', ['-force', '-batch', '-'], { ...opts, input: `${lines.join('\n')}\n` });
}
