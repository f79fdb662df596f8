// The dcos-dns zones (specs/dcos-net.md §1.5, §1.8, §1.9) as pure functions of what a node knows:
// the Mesos state, the masters, the Mesos-DNS records and the node's own addresses. Owner names are
// lower-case FQDNs with a trailing dot; values are IP literals, SRV values `target.:port`.
import { formatAddress, parseAddress, dcosLabel } from '../../net/index.js';
import type { MesosState, MesosTask } from '../../cluster/index.js';
import { parsePortRanges, pidHost } from '../../cluster/index.js';

export interface ZoneRecords {
  readonly a: Map<string, Set<string>>;
  readonly aaaa: Map<string, Set<string>>;
  readonly srv: Map<string, Set<string>>;
  /** Owner → target (FQDNs with trailing dots). */
  readonly cname: Map<string, string>;
}

export const ZONES = {
  spartan: 'spartan',
  localhost: 'localhost',
  zk: 'zk',
  dcos: 'dcos.thisdcos.directory',
  mesos: 'mesos.thisdcos.directory',
  l4lb: 'l4lb.thisdcos.directory',
  thisnode: 'thisnode.thisdcos.directory',
} as const;

/** The node-local DNS address of DC/OS (`spartan`). */
export const SPARTAN_IP = '198.51.100.1';

export function emptyZone(): ZoneRecords {
  return { a: new Map(), aaaa: new Map(), srv: new Map(), cname: new Map() };
}

/** Adds an address under A or AAAA by family; non-IP values are ignored. */
export function addAddress(zone: ZoneRecords, name: string, ip: string): void {
  const addr = parseAddress(ip);
  if (!addr) return;
  const map = addr.family === 4 ? zone.a : zone.aaaa;
  let set = map.get(name);
  if (!set) map.set(name, (set = new Set()));
  set.add(formatAddress(addr.family, addr.value));
}

/** `spartan`: the health probe name and the node-local resolver's own name. */
export function spartanZone(): ZoneRecords {
  const z = emptyZone();
  addAddress(z, 'ready.spartan.', '127.0.0.1');
  addAddress(z, 'ns.spartan.', SPARTAN_IP);
  return z;
}

export function localhostZone(): ZoneRecords {
  const z = emptyZone();
  addAddress(z, 'localhost.', '127.0.0.1');
  return z;
}

/** `zk-1.zk` … `zk-5.zk`: the master IPs repeated to fill five slots; empty while none is known. */
export function zkZone(masterIps: readonly string[]): ZoneRecords {
  const z = emptyZone();
  const ips = masterIps.filter((ip) => parseAddress(ip));
  if (ips.length === 0) return z;
  for (let i = 0; i < 5; i++) addAddress(z, `zk-${i + 1}.zk.`, ips[i % ips.length]!);
  return z;
}

/** `thisnode.thisdcos.directory` = this node's private IP, `public.thisnode…` its public ones. */
export function thisnodeZone(privateIp: string, publicIps: readonly string[] = []): ZoneRecords {
  const z = emptyZone();
  addAddress(z, `${ZONES.thisnode}.`, privateIp);
  for (const ip of publicIps) addAddress(z, `public.${ZONES.thisnode}.`, ip);
  return z;
}

/** The Mesos-DNS records renamed from `<domain>.` to `mesos.thisdcos.directory.` (§1.9). */
export function mesosMirrorZone(
  records: {
    readonly a: ReadonlyMap<string, ReadonlySet<string>>;
    readonly aaaa: ReadonlyMap<string, ReadonlySet<string>>;
    readonly srv: ReadonlyMap<string, ReadonlySet<string>>;
  },
  domain: string,
): ZoneRecords {
  const from = `.${domain.toLowerCase().replace(/\.$/, '')}.`;
  const to = `.${ZONES.mesos}.`;
  const rename = (name: string): string | undefined => {
    const n = `.${name.toLowerCase()}`;
    return n.endsWith(from) ? `${n.slice(1, n.length - from.length)}${to}`.replace(/^\./, '') : undefined;
  };
  const z = emptyZone();
  const copy = (src: ReadonlyMap<string, ReadonlySet<string>>, dst: Map<string, Set<string>>): void => {
    for (const [name, values] of src) {
      const owner = rename(name);
      if (!owner) continue;
      dst.set(owner, new Set([...values].sort()));
    }
  };
  copy(records.a, z.a);
  copy(records.aaaa, z.aaaa);
  for (const [name, values] of records.srv) {
    const owner = rename(name);
    if (!owner) continue;
    const out = new Set<string>();
    for (const v of values) {
      const i = v.lastIndexOf(':');
      const target = rename(v.slice(0, i));
      out.add(`${target ?? v.slice(0, i)}:${v.slice(i + 1)}`);
    }
    z.srv.set(owner, new Set([...out].sort()));
  }
  return z;
}

export interface DcosZoneInput {
  readonly state: MesosState;
  /** Agent host names that are not IP literals, resolved by the caller. */
  readonly resolved?: ReadonlyMap<string, string>;
  /** The leading master's IP (`leader.dcos.thisdcos.directory`). */
  readonly leaderIp?: string;
  /** Every known master IP (`master.dcos.thisdcos.directory`). */
  readonly masterIps: readonly string[];
}

/** `dcos.thisdcos.directory` from the running tasks (§1.8): agentip, containerip and autoip names. */
export function dcosZone(input: DcosZoneInput): ZoneRecords {
  const z = emptyZone();
  const agentIp = new Map<string, string>();
  for (const s of input.state.slaves) {
    const host = pidHost(s.pid) ?? s.hostname;
    if (!host) continue;
    const ip = parseAddress(host) ? host : input.resolved?.get(host);
    if (ip) agentIp.set(s.id, ip);
  }
  for (const fw of input.state.frameworks) {
    const fwLabel = dcosLabel(fw.name);
    for (const task of fw.tasks) {
      if (task.state !== 'TASK_RUNNING') continue;
      const agent = agentIp.get(task.slave_id);
      if (!agent) continue;
      const base = `${dcosLabel(task.discovery?.name ?? task.name)}.${fwLabel}`;
      const taskIps = latestTaskIps(task);
      addAddress(z, `${base}.agentip.${ZONES.dcos}.`, agent);
      for (const ip of taskIps) addAddress(z, `${base}.containerip.${ZONES.dcos}.`, ip);
      const auto = hasHostPort(task) || taskIps.length === 0 ? [agent] : taskIps;
      for (const ip of auto) addAddress(z, `${base}.autoip.${ZONES.dcos}.`, ip);
    }
  }
  if (input.leaderIp) addAddress(z, `leader.${ZONES.dcos}.`, input.leaderIp);
  for (const ip of input.masterIps) addAddress(z, `master.${ZONES.dcos}.`, ip);
  return z;
}

/** Every IP of the latest status's network infos (by timestamp, any state). */
function latestTaskIps(task: MesosTask): string[] {
  let latest: MesosTask['statuses'][number] | undefined;
  for (const s of task.statuses) if (!latest || s.timestamp >= latest.timestamp) latest = s;
  const out: string[] = [];
  for (const ni of latest?.container_status?.network_infos ?? []) {
    for (const a of ni.ip_addresses ?? [])
      if (a.ip_address && parseAddress(a.ip_address)) out.push(a.ip_address);
    if (ni.ip_address && parseAddress(ni.ip_address)) out.push(ni.ip_address);
  }
  return out;
}

/** Whether any of the task's ports is reached through a port of its agent (host, bridge, port mapping). */
function hasHostPort(task: MesosTask): boolean {
  if (parsePortRanges(task.resources?.ports).length > 0) return true;
  for (const p of task.discovery?.ports?.ports ?? []) {
    const scope = p.labels?.labels?.find((l) => l.key === 'network-scope')?.value;
    if (scope === 'host' && p.number > 0) return true;
  }
  const doc = task as unknown as {
    container?: {
      network_infos?: Array<{ port_mappings?: unknown[] }>;
      docker?: { port_mappings?: unknown[] };
    };
  };
  if ((doc.container?.docker?.port_mappings ?? []).length > 0) return true;
  return (doc.container?.network_infos ?? []).some((ni) => (ni.port_mappings ?? []).length > 0);
}
