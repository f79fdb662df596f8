// Mesos-DNS record generation from the Mesos master state (specs/mesos-dns.md §1): framework,
// agent, name-server, leader/master and task records with the exact names, hashing and IPSources
// rules of the upstream generator. Pure: host names are resolved by the caller beforehand.
import {
  agentTail,
  domainFrag,
  formatAddress,
  labelSpec,
  parseAddress,
  taskHash,
  type LabelSpec,
} from '../../net/index.js';
import { parsePortRanges, type MesosState, type MesosTask } from '../../cluster/index.js';

export type IpSource = 'host' | 'mesos' | 'docker' | 'netinfo';

export interface GeneratorConfig {
  /** The Mesos domain, lower case, without trailing dot (`mesos`). */
  readonly domain: string;
  /** Name-server (SOA MNAME) name with trailing dot (`ns1.mesos.`). */
  readonly soaMname: string;
  /** Addresses for the name-server record (the listener, or every interface for 0.0.0.0). */
  readonly listenerAddrs: readonly string[];
  readonly spec: LabelSpec;
  readonly ipSources: readonly string[];
  /** Configured masters, `ip:port`; element 0 may be the leader as ZooKeeper knows it or ''. */
  readonly masters: readonly string[];
}

export interface RecordSet {
  readonly a: Map<string, Set<string>>;
  readonly aaaa: Map<string, Set<string>>;
  readonly srv: Map<string, Set<string>>;
}

/** Host names the state mentions that are not IP literals (to resolve before generating). */
export function hostsToResolve(state: MesosState): string[] {
  const out = new Set<string>();
  const add = (host: string | undefined): void => {
    if (host && !parseAddress(host)) out.add(host);
  };
  for (const f of state.frameworks) add(f.pid ? splitPid(f.pid)?.host : f.hostname);
  for (const s of state.slaves) add(splitPid(s.pid)?.host);
  return [...out];
}

/** `name(1)@host:port`, `[v6]:port` supported; undefined when malformed. */
export function splitPid(pid: string): { host: string; port: number } | undefined {
  const text = pid.trim().replace(/^["']+|["']+$/g, '');
  const parts = text.split('@');
  if (parts.length !== 2) return undefined;
  return splitHostPort(parts[1]!);
}

function splitHostPort(hp: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(hp) ?? /^([^:[\]]+):(\d+)$/.exec(hp);
  if (!m || !m[1]) return undefined;
  return { host: m[1], port: Number(m[2]) };
}

/** Canonical text of an IP, or undefined for anything else. */
function canonicalIp(text: string): string | undefined {
  const a = parseAddress(text);
  return a && formatAddress(a.family, a.value);
}

export function generateRecords(
  state: MesosState,
  cfg: GeneratorConfig,
  resolve: (host: string) => readonly string[] = () => [],
): RecordSet {
  const rs: RecordSet = { a: new Map(), aaaa: new Map(), srv: new Map() };
  const d = cfg.domain;
  const add = (map: Map<string, Set<string>>, name: string, value: string): void => {
    if (value === '') return;
    let set = map.get(name);
    if (!set) map.set(name, (set = new Set()));
    set.add(value);
  };
  /** A or AAAA by family; values that are not IPs are never records (upstream emitted them). */
  const addIp = (name: string, value: string): void => {
    const a = parseAddress(value);
    if (!a) return;
    add(a.family === 4 ? rs.a : rs.aaaa, name, value);
  };
  const addressesOf = (host: string): string[] => {
    const ip = canonicalIp(host);
    return ip
      ? [ip]
      : resolve(host)
          .map((h) => canonicalIp(h))
          .filter((x): x is string => x !== undefined);
  };

  // (1) frameworks
  for (const f of state.frameworks) {
    const fw = domainFrag(f.name, cfg.spec);
    if (fw === '') continue;
    const pid = f.pid ? splitPid(f.pid) : undefined;
    const host = pid?.host ?? f.hostname;
    if (!host) continue;
    const ips = addressesOf(host);
    if (ips.length === 0) continue;
    for (const ip of ips) addIp(`${fw}.${d}.`, ip);
    if (pid) add(rs.srv, `_framework._tcp.${fw}.${d}.`, `${fw}.${d}.:${pid.port}`);
  }

  // (2) agents
  const agentIps = new Map<string, string[]>();
  for (const s of state.slaves) {
    const pid = splitPid(s.pid);
    if (!pid) continue;
    const ips = addressesOf(pid.host);
    agentIps.set(s.id, ips);
    if (ips.length === 0) continue;
    for (const ip of ips) addIp(`slave.${d}.`, ip);
    add(rs.srv, `_slave._tcp.${d}.`, `slave.${d}.:${pid.port}`);
  }

  // (3) the name server
  for (const ip of cfg.listenerAddrs) addIp(cfg.soaMname, ip);

  // (4) leader and masters
  const leaderAt = state.leader
    ? state.leader.includes('@')
      ? splitPid(state.leader)
      : undefined
    : undefined;
  if (leaderAt && parseAddress(leaderAt.host)) {
    const leaderHp = `${leaderAt.host}:${leaderAt.port}`;
    addIp(`leader.${d}.`, leaderAt.host);
    addIp(`master.${d}.`, leaderAt.host);
    add(rs.srv, `_leader._tcp.${d}.`, `leader.${d}.:${leaderAt.port}`);
    add(rs.srv, `_leader._udp.${d}.`, `leader.${d}.:${leaderAt.port}`);
    let idx = 0;
    let leaderIndexed = false;
    const inMaster = new Set<string>([leaderAt.host]);
    for (const entry of cfg.masters) {
      const hp = splitHostPort(entry);
      if (!hp || !parseAddress(hp.host)) continue; // a host name never crashes us: skipped
      const isLeader = entry === leaderHp;
      if (!isLeader) {
        if (inMaster.has(hp.host)) continue;
        inMaster.add(hp.host);
        addIp(`master.${d}.`, hp.host);
      } else if (leaderIndexed) continue;
      addIp(`master${idx}.${d}.`, hp.host);
      idx++;
      if (isLeader) leaderIndexed = true;
    }
    if (!leaderIndexed) addIp(`master${idx}.${d}.`, leaderAt.host);
  }

  // (5) tasks
  for (const f of state.frameworks) {
    const fw = domainFrag(f.name, cfg.spec);
    for (const t of f.tasks) {
      if (t.state !== 'TASK_RUNNING') continue;
      const agent = agentIps.get(t.slave_id);
      if (agent === undefined) continue;
      const taskIps = taskIpsOf(t, agent, cfg.ipSources);
      const diName = t.discovery?.name ?? '';
      const labels = diName !== '' ? [diName, labelSpec(diName, cfg.spec)] : [labelSpec(t.name, cfg.spec)];
      const ports = parsePortRanges(t.resources?.ports);
      for (const T of labels) {
        const C = `${T}-${taskHash(t.id)}-${agentTail(t.slave_id)}`;
        const base = `${fw}.${d}.`;
        const slaveBase = `${fw}.slave.${d}.`;
        for (const ip of taskIps) {
          addIp(`${T}.${base}`, ip);
          addIp(`${C}.${base}`, ip);
        }
        for (const ip of agent) {
          addIp(`${T}.${slaveBase}`, ip);
          addIp(`${C}.${slaveBase}`, ip);
        }
        for (const p of ports) {
          add(rs.srv, `_${T}._tcp.${slaveBase}`, `${C}.${slaveBase}:${p}`);
          add(rs.srv, `_${T}._udp.${slaveBase}`, `${C}.${slaveBase}:${p}`);
          if (diName === '') {
            add(rs.srv, `_${T}._tcp.${base}`, `${C}.${slaveBase}:${p}`);
            add(rs.srv, `_${T}._udp.${base}`, `${C}.${slaveBase}:${p}`);
          }
        }
        if (diName === '') continue;
        for (const dp of t.discovery?.ports?.ports ?? []) {
          const proto = labelSpec(dp.protocol ?? '', cfg.spec);
          const protos = proto === '' ? ['tcp', 'udp'] : [proto];
          const portName = labelSpec(dp.name ?? '', cfg.spec);
          for (const pr of protos) {
            add(rs.srv, `_${T}._${pr}.${base}`, `${C}.${base}:${dp.number}`);
            if (portName !== '')
              add(rs.srv, `_${portName}._${T}._${pr}.${base}`, `${C}.${base}:${dp.number}`);
          }
        }
      }
    }
  }
  return rs;
}

/** IPSources (§1.8): the first source with at least one valid IP wins, with all its IPs. */
export function taskIpsOf(t: MesosTask, agentIps: readonly string[], sources: readonly string[]): string[] {
  let latest: MesosTask['statuses'][number] | undefined;
  for (const s of t.statuses)
    if (s.state === 'TASK_RUNNING' && (!latest || s.timestamp > latest.timestamp)) latest = s;
  const labelValues = (key: string): string[] =>
    (latest?.labels ?? []).filter((l) => l.key === key).map((l) => l.value ?? '');
  for (const source of sources) {
    let candidates: string[];
    if (source === 'host') candidates = [...agentIps];
    else if (source === 'docker') candidates = labelValues('Docker.NetworkSettings.IPAddress');
    else if (source === 'mesos') candidates = labelValues('MesosContainerizer.NetworkSettings.IPAddress');
    else if (source === 'netinfo') {
      candidates = (latest?.container_status?.network_infos ?? []).flatMap((ni) =>
        ni.ip_addresses && ni.ip_addresses.length > 0
          ? ni.ip_addresses.map((a) => a.ip_address ?? '')
          : ni.ip_address
            ? [ni.ip_address]
            : [],
      );
    } else continue; // unknown source names are ignored
    const ips = candidates.map((c) => canonicalIp(c)).filter((x): x is string => x !== undefined);
    if (ips.length > 0) return ips;
  }
  return [];
}
