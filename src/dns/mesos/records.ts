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

export interface EnumerationRecord {
  readonly name: string;
  /** A/AAAA: the address; SRV: `target:port`. */
  readonly host: string;
  readonly rtype: 'A' | 'AAAA' | 'SRV';
}

/** `/v1/enumerate` (§4): every framework, its eligible tasks, each task's newly inserted records. */
export interface EnumerationFramework {
  readonly name: string;
  readonly tasks: { readonly name: string; readonly id: string; readonly records: EnumerationRecord[] }[];
}

/** Record values by owner name (values in insertion order; the first is the "first" of §4). */
export type RecordMap = ReadonlyMap<string, ReadonlySet<string>>;

export interface RecordSet {
  readonly a: RecordMap;
  readonly aaaa: RecordMap;
  readonly srv: RecordMap;
}

/**
 * The value set of a name with exactly one value, which most names have (every canonical task
 * name): one small object instead of a hash table, which makes a 100,000-task refresh allocate
 * and collect far less. Becomes a real Set when a second value arrives.
 */
export class OneValue implements ReadonlySet<string> {
  constructor(readonly value: string) {}
  get size(): number {
    return 1;
  }
  has(v: string): boolean {
    return v === this.value;
  }
  forEach(fn: (v: string, k: string, set: ReadonlySet<string>) => void, thisArg?: unknown): void {
    fn.call(thisArg, this.value, this.value, this);
  }
  *values(): SetIterator<string> {
    yield this.value;
  }
  keys(): SetIterator<string> {
    return this.values();
  }
  *entries(): SetIterator<[string, string]> {
    yield [this.value, this.value];
  }
  [Symbol.iterator](): SetIterator<string> {
    return this.values();
  }
}

export interface GeneratedRecords extends RecordSet {
  /** Present when generated with `enumerate`. */
  readonly frameworks?: EnumerationFramework[];
  /** Names that could not be served and were left out (labels > 63 octets, names > 253). */
  readonly skipped: string[];
}

export interface GenerateOptions {
  /** Build the `/v1/enumerate` tree too (EnumerationOn). */
  readonly enumerate?: boolean;
}

/** Host names the state mentions that are not IP literals (to resolve before generating). */
export function hostsToResolve(state: MesosState): string[] {
  const out = new Set<string>();
  const add = (host: string | undefined): void => {
    if (host && canonicalIp(host) === undefined) out.add(host);
  };
  for (const f of state.frameworks) add(f.pid ? splitPid(f.pid)?.host : f.hostname);
  for (const s of state.slaves) add(splitPid(s.pid)?.host);
  if (state.leader) add(splitPid(state.leader)?.host);
  return [...out];
}

/** `name(1)@host:port`, `[v6]:port` supported; undefined when malformed. */
export function splitPid(pid: string): { host: string; port: number } | undefined {
  const text = pid.trim().replace(/^["']+|["']+$/g, '');
  const at = text.indexOf('@');
  if (at < 0 || text.indexOf('@', at + 1) >= 0) return undefined;
  return splitHostPort(text.slice(at + 1));
}

function splitHostPort(hp: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(hp) ?? /^([^:[\]]+):(\d+)$/.exec(hp);
  if (!m || !m[1]) return undefined;
  return { host: m[1], port: Number(m[2]) };
}

const V4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * Canonical text of an IP (Go's `net.IP.String()`: IPv4-mapped IPv6 prints as IPv4), or
 * undefined for anything else. Dotted quads, the common case, skip the general parser.
 */
export function canonicalIp(text: string): string | undefined {
  if (V4.test(text)) return text;
  if (!text.includes(':')) return undefined;
  const a = parseAddress(text);
  if (!a) return undefined;
  if (a.family === 6 && a.value >> 32n === 0xffffn) return formatAddress(4, a.value & 0xffffffffn);
  return formatAddress(a.family, a.value);
}

const MAX_LABEL = 63;
const MAX_NAME = 254; // 253 octets plus the trailing dot

/** Every label 1..63 octets and the whole name within 253 octets (the DNS wire limits). */
export function servableName(name: string): boolean {
  let bytes = 0;
  let label = 0;
  const end = name.endsWith('.') ? name.length - 1 : name.length;
  for (let i = 0; i < end; i++) {
    const c = name.charCodeAt(i);
    if (c === 46 /* . */) {
      if (label === 0) return false;
      label = 0;
      bytes++;
      continue;
    }
    // UTF-8 octets of this UTF-16 unit (a surrogate pair counts 2 + 2 = 4).
    const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xe000 ? 2 : 3;
    label += n;
    bytes += n;
    if (label > MAX_LABEL) return false;
  }
  return label > 0 && bytes + 1 <= MAX_NAME;
}

/** `prefix + label + suffix` cut down to one legal label by shortening `label` (upstream: unservable). */
function fitLabel(prefix: string, label: string, suffix: string): string {
  const room = MAX_LABEL - prefix.length - suffix.length;
  if (label.length <= room) return prefix + label + suffix;
  return (prefix + label.slice(0, Math.max(0, room)).replace(/-+$/, '') + suffix).slice(0, MAX_LABEL);
}

export function generateRecords(
  state: MesosState,
  cfg: GeneratorConfig,
  resolve: (host: string) => readonly string[] = () => [],
  opts: GenerateOptions = {},
): GeneratedRecords {
  const skipped: string[] = [];
  const frameworks: EnumerationFramework[] | undefined = opts.enumerate ? [] : undefined;
  const a = new Map<string, OneValue | Set<string>>();
  const aaaa = new Map<string, OneValue | Set<string>>();
  const srv = new Map<string, OneValue | Set<string>>();
  const rs: GeneratedRecords = {
    a,
    aaaa,
    srv,
    skipped,
    ...(frameworks && { frameworks }),
  };
  const d = cfg.domain;
  /** The task whose records are being listed for `/v1/enumerate`, if any. */
  let listing: EnumerationRecord[] | undefined;
  const add = (
    map: Map<string, OneValue | Set<string>>,
    name: string,
    value: string,
    rtype: EnumerationRecord['rtype'],
  ): void => {
    if (value === '') return;
    const cur = map.get(name);
    if (cur === undefined) map.set(name, new OneValue(value));
    else if (cur instanceof OneValue) {
      if (cur.value === value) return;
      const set = new Set<string>();
      set.add(cur.value);
      set.add(value);
      map.set(name, set);
    } else {
      const before = cur.size;
      if (cur.add(value).size === before) return; // already there: one hash probe, not two
    }
    listing?.push({ name, host: value, rtype });
  };
  const addSrv = (name: string, value: string): void => add(srv, name, value, 'SRV');
  /** A or AAAA by family of an already canonical IP. */
  const addIp = (name: string, ip: string): void => {
    if (ip.includes(':')) add(aaaa, name, ip, 'AAAA');
    else add(a, name, ip, 'A');
  };
  const addressesOf = (host: string): string[] => {
    const ip = canonicalIp(host);
    return ip
      ? [ip]
      : resolve(host)
          .map((h) => canonicalIp(h))
          .filter((x): x is string => x !== undefined);
  };
  /** Upstream keeps leader, masters and listener text as written; we store canonical text. */
  const asIp = (text: string): string | undefined => canonicalIp(text);

  // (1) frameworks
  const fwNames = state.frameworks.map((f) => {
    const fw = domainFrag(f.name, cfg.spec);
    if (fw !== '' && !servableName(`_framework._tcp.${fw}.slave.${d}.`)) {
      skipped.push(`${fw}.${d}.`);
      return '';
    }
    return fw;
  });
  state.frameworks.forEach((f, i) => {
    const fw = fwNames[i]!;
    if (fw === '') return;
    const pid = f.pid ? splitPid(f.pid) : undefined;
    const host = pid?.host ?? f.hostname;
    if (!host) return;
    const ips = addressesOf(host);
    if (ips.length === 0) return;
    for (const ip of ips) addIp(`${fw}.${d}.`, ip);
    if (pid) addSrv(`_framework._tcp.${fw}.${d}.`, `${fw}.${d}.:${pid.port}`);
  });

  // (2) agents
  const agentIps = new Map<string, string[]>();
  for (const s of state.slaves) {
    const pid = splitPid(s.pid);
    if (!pid) continue;
    const ips = addressesOf(pid.host);
    agentIps.set(s.id, ips);
    if (ips.length === 0) continue;
    for (const ip of ips) addIp(`slave.${d}.`, ip);
    addSrv(`_slave._tcp.${d}.`, `slave.${d}.:${pid.port}`);
  }

  // (3) the name server
  for (const text of cfg.listenerAddrs) {
    const ip = asIp(text);
    if (ip) addIp(cfg.soaMname, ip);
  }

  // (4) leader and masters
  const leaderAt = state.leader ? splitPid(state.leader) : undefined;
  // A leader pid with a host name (upstream: a panic) uses the first address it resolves to.
  const leaderIp = leaderAt && addressesOf(leaderAt.host)[0];
  if (leaderAt && leaderIp) {
    const leaderHp = leaderAt.host.includes(':')
      ? `[${leaderAt.host}]:${leaderAt.port}`
      : `${leaderAt.host}:${leaderAt.port}`;
    addIp(`leader.${d}.`, leaderIp);
    addIp(`master.${d}.`, leaderIp);
    addSrv(`_leader._tcp.${d}.`, `leader.${d}.:${leaderAt.port}`);
    addSrv(`_leader._udp.${d}.`, `leader.${d}.:${leaderAt.port}`);
    let idx = 0;
    let leaderIndexed = false;
    const inMaster = new Set<string>([leaderIp]);
    for (const entry of cfg.masters) {
      const hp = splitHostPort(entry);
      const ip = hp && asIp(hp.host);
      if (!ip) continue; // host names are resolved by the caller; never a crash here
      const isLeader = entry === leaderHp;
      if (!isLeader) {
        if (inMaster.has(ip)) continue;
        inMaster.add(ip);
        addIp(`master.${d}.`, ip);
      } else if (leaderIndexed) continue;
      addIp(`master${idx}.${d}.`, ip);
      idx++;
      if (isLeader) leaderIndexed = true;
    }
    if (!leaderIndexed) addIp(`master${idx}.${d}.`, leaderIp);
  }

  // (5) tasks. The hot loop of a refresh: names are built once per task and pass, sanitised
  // labels are memoised (instances of an app share them), lengths are checked by arithmetic.
  const specMemo = new Map<string, string>();
  const spec = (text: string): string => {
    let out = specMemo.get(text);
    if (out === undefined) specMemo.set(text, (out = labelSpec(text, cfg.spec)));
    return out;
  };
  state.frameworks.forEach((f, fi) => {
    const fw = fwNames[fi]!;
    const listed: EnumerationFramework['tasks'] = [];
    frameworks?.push({ name: f.name, tasks: listed });
    const base = `${fw}.${d}.`;
    const slaveBase = `${fw}.slave.${d}.`;
    const bundles = new Map<
      string,
      {
        tName: string;
        tSlave: string;
        tcpSlave: string;
        udpSlave: string;
        tcp: string;
        udp: string;
        /** DiscoveryInfo port (protocol, name) → its SRV names. */
        di: Map<string, string[]>;
      }
    >();
    for (const t of f.tasks) {
      if (t.state !== 'TASK_RUNNING') continue;
      const agent = agentIps.get(t.slave_id);
      if (agent === undefined) continue;
      if (frameworks) {
        listing = [];
        listed.push({ name: t.name, id: t.id, records: listing });
      }
      if (fw === '') continue;
      const taskIps = taskIpsOf(t, agent, cfg.ipSources);
      const diName = t.discovery?.name ?? '';
      const suffix = `-${taskHash(t.id)}-${agentTail(t.slave_id)}`;
      const ports = portsOf(t.resources?.ports);
      const T = spec(diName !== '' ? diName : t.name);
      if (diName !== '' && diName !== T) {
        // The legacy pass with the raw DiscoveryInfo name: only when it makes servable names.
        const C = diName + suffix;
        if (servableName(`_${diName}._tcp.${slaveBase}`) && servableName(`${C}.${slaveBase}`))
          taskPass(t, diName, C, `_${diName}`, taskIps, agent, ports, diName !== '');
        else skipped.push(`${diName}.${base}`);
      }
      // Sanitised labels are ASCII and at most 63 long; only the whole name can be too long.
      const C = fitLabel('', T, suffix);
      const srvT = fitLabel('_', T, '');
      if (srvT.length + 6 + slaveBase.length <= MAX_NAME && C.length + 1 + slaveBase.length <= MAX_NAME)
        taskPass(t, T, C, srvT, taskIps, agent, ports, diName !== '');
      else skipped.push(`${T}.${base}`);
    }

    function taskPass(
      t: MesosTask,
      T: string,
      C: string,
      srvT: string,
      taskIps: readonly string[],
      agent: readonly string[],
      ports: readonly number[],
      hasDi: boolean,
    ): void {
      // Names shared by every instance of an app come from one memoised bundle: the same string
      // objects each time, so the record maps hash them once.
      let n = bundles.get(T);
      if (n === undefined) {
        n = {
          tName: `${T}.${base}`,
          tSlave: `${T}.${slaveBase}`,
          tcpSlave: `${srvT}._tcp.${slaveBase}`,
          udpSlave: `${srvT}._udp.${slaveBase}`,
          tcp: `${srvT}._tcp.${base}`,
          udp: `${srvT}._udp.${base}`,
          di: new Map(),
        };
        bundles.set(T, n);
      }
      const cName = `${C}.${base}`;
      const cSlave = `${C}.${slaveBase}`;
      for (const ip of taskIps) {
        addIp(n.tName, ip);
        addIp(cName, ip);
      }
      for (const ip of agent) {
        addIp(n.tSlave, ip);
        addIp(cSlave, ip);
      }
      for (const p of ports) {
        const target = `${cSlave}:${p}`;
        addSrv(n.tcpSlave, target);
        addSrv(n.udpSlave, target);
        if (!hasDi) {
          addSrv(n.tcp, target);
          addSrv(n.udp, target);
        }
      }
      if (!hasDi) return;
      for (const dp of t.discovery?.ports?.ports ?? []) {
        const target = `${cName}:${dp.number}`;
        const key = `${dp.protocol ?? ''}\n${dp.name ?? ''}`;
        let names = n.di.get(key);
        if (names === undefined)
          n.di.set(key, (names = diPortNames(srvT, spec(dp.protocol ?? ''), spec(dp.name ?? ''))));
        for (const name of names) addSrv(name, target);
      }
    }

    /** SRV names of one DiscoveryInfo port: per protocol, unnamed then named (§1.6 rows 7–8). */
    function diPortNames(srvT: string, proto: string, portName: string): string[] {
      const out: string[] = [];
      for (const pr of proto === '' ? ['_tcp', '_udp'] : [fitLabel('_', proto, '')]) {
        out.push(`${srvT}.${pr}.${base}`);
        if (portName === '') continue;
        const label = fitLabel('_', portName, '');
        const named = `${label}.${srvT}.${pr}.${base}`;
        if (named.length <= MAX_NAME) out.push(named);
        else skipped.push(named);
      }
      return out;
    }
  });
  listing = undefined;
  return rs;
}

const NO_PORTS: readonly number[] = [];

/**
 * Host ports of a task: `parsePortRanges` semantics, with a scanning fast path for the shape
 * Mesos always writes (`[31000-31001, 31005-31005]`), which is most of a refresh's ports.
 */
export function portsOf(text: string | undefined): readonly number[] {
  if (!text || text === '[]') return NO_PORTS;
  const out: number[] = [];
  let i = text.charCodeAt(0) === 91 /* [ */ ? 1 : -1;
  while (i > 0 && i < text.length) {
    let lo = 0;
    let hi = 0;
    let digits = 0;
    while (text.charCodeAt(i) === 32) i++;
    for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) {
      lo = lo * 10 + c - 48;
      digits++;
    }
    if (digits === 0 || text.charCodeAt(i) !== 45 /* - */) return parsePortRanges(text);
    digits = 0;
    for (let c = text.charCodeAt(++i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) {
      hi = hi * 10 + c - 48;
      digits++;
    }
    if (digits === 0) return parsePortRanges(text);
    for (let p = lo; p <= hi; p++) out.push(p);
    const c = text.charCodeAt(i);
    if (c === 93 /* ] */) return out;
    if (c !== 44 /* , */) return parsePortRanges(text);
    i++;
  }
  return parsePortRanges(text);
}

const DOCKER_IP = 'Docker.NetworkSettings.IPAddress';
const MESOS_IP = 'MesosContainerizer.NetworkSettings.IPAddress';

function take(out: string[], text: string | undefined): void {
  if (text === undefined) return;
  const ip = canonicalIp(text);
  if (ip !== undefined) out.push(ip);
}

/** IPSources (§1.8): the first source with at least one valid IP wins, with all its IPs. */
export function taskIpsOf(t: MesosTask, agentIps: readonly string[], sources: readonly string[]): string[] {
  let latest: MesosTask['statuses'][number] | undefined;
  for (const s of t.statuses)
    if (s.state === 'TASK_RUNNING' && (latest === undefined || s.timestamp > latest.timestamp)) latest = s;
  const out: string[] = [];
  for (const source of sources) {
    if (source === 'host') {
      for (const ip of agentIps) take(out, ip);
    } else if (source === 'docker' || source === 'mesos') {
      const key = source === 'docker' ? DOCKER_IP : MESOS_IP;
      for (const l of latest?.labels ?? []) if (l.key === key) take(out, l.value);
    } else if (source === 'netinfo') {
      for (const ni of latest?.container_status?.network_infos ?? []) {
        if (ni.ip_addresses && ni.ip_addresses.length > 0)
          for (const a of ni.ip_addresses) take(out, a.ip_address);
        else if (ni.ip_address) take(out, ni.ip_address);
      }
    } // unknown source names are ignored
    if (out.length > 0) return out;
  }
  return out;
}
