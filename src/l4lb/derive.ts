// Mesos state → VIP table, a pure function (specs/dcos-net.md §1.7, §2.1–2.3). Backends are the
// running tasks that are not unhealthy; their address follows the port's network scope (host and
// bridge ports: agent IP and host port; container networks: each task IP and the container port).
// A bad label becomes a named error and the rest of the table is unaffected. IP-form VIPs are
// checked against the address policy (policy.ts): the nodes, masters and tasks of this state are
// forbidden besides what the policy names.
import { parsePortRanges, type MesosState, type MesosTask } from '../cluster/index.js';
import { domainFrag, parseAddress, type Family } from '../net/index.js';
import { allocateNamed, DEFAULT_RANGE4, DEFAULT_RANGE6, type NamedRange } from './allocate.js';
import {
  isVipLabelKey,
  parseProtocol,
  parseVipValue,
  type VipLabelError,
  type VipProtocol,
} from './labels.js';
import { DEFAULT_VIP_POLICY, VipAddressGuard, type VipAddressPolicy } from './policy.js';
import { vipKey, type Backend, type Vip, type VipTable } from './types.js';

export interface DeriveOptions {
  /** Named VIPs also get an IPv6 address for IPv6 backends (DC/OS `dcos_l4lb_enable_ipv6`). */
  readonly enableIpv6?: boolean;
  readonly range4?: NamedRange;
  readonly range6?: NamedRange;
  /** Where IP VIPs may be and what they may never take (default: `DEFAULT_VIP_POLICY`). */
  readonly policy?: VipAddressPolicy;
  /** The named VIPs' addresses as last published (`keptAddresses` of that table): a named VIP
   *  keeps its address, and an IP VIP on an address a named VIP holds is refused. */
  readonly kept?: KeptAddresses;
}

/** Named-VIP addresses by family and DNS name (`<label>.<framework>`, sanitised). */
export interface KeptAddresses {
  readonly 4: ReadonlyMap<string, string>;
  readonly 6: ReadonlyMap<string, string>;
}

/** The DNS name a named VIP is allocated by (labels sanitised as DNS names are). */
export const namedVipName = (label: string, framework: string): string =>
  `${domainFrag(label)}.${domainFrag(framework)}`;

/** What a published table says each named VIP holds: the input of the next derivation. */
export function keptAddresses(vips: Iterable<Pick<Vip, 'ip' | 'family' | 'name'>>): KeptAddresses {
  const kept = { 4: new Map<string, string>(), 6: new Map<string, string>() };
  for (const v of vips) if (v.name) kept[v.family].set(namedVipName(v.name.label, v.name.framework), v.ip);
  return kept;
}

export interface Derived {
  readonly table: VipTable;
  readonly errors: readonly VipLabelError[];
}

/** Port label or task label that turns on client-IP affinity (`client-ip` or `true`). */
export const AFFINITY_LABEL = 'DCNET_L4LB_AFFINITY';

/** Weights from health: proven (or unchecked) tasks get a full share, tasks whose health check
 *  has not answered yet half a share; unhealthy and killing tasks none (they are left out). */
export const FULL_WEIGHT = 2;
export const PROBATION_WEIGHT = 1;

type Label = { key: string; value?: string | undefined };

interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: string;
}

const ipOfPid = (pid: string): string | undefined => {
  const m = /@\[?([^\]@]+?)\]?:\d+$/.exec(pid);
  return m && parseAddress(m[1]!) ? m[1] : undefined;
};

function latestStatus(task: MesosTask): MesosTask['statuses'][number] | undefined {
  let best: MesosTask['statuses'][number] | undefined;
  for (const s of task.statuses) if (!best || s.timestamp >= best.timestamp) best = s;
  return best;
}

function taskIps(task: MesosTask): string[] {
  const s = latestStatus(task);
  const out: string[] = [];
  for (const ni of s?.container_status?.network_infos ?? []) {
    for (const a of ni.ip_addresses ?? [])
      if (a.ip_address && parseAddress(a.ip_address)) out.push(a.ip_address);
    if (ni.ip_address && parseAddress(ni.ip_address)) out.push(ni.ip_address);
  }
  return [...new Set(out)];
}

function portMappings(task: MesosTask): PortMapping[] {
  const c = task.container;
  const fromStatus = latestStatus(task)?.container_status?.network_infos ?? [];
  const lists = [
    ...(c?.network_infos ?? []).map((n) => n.port_mappings ?? []),
    ...(c?.docker?.port_mappings ? [c.docker.port_mappings] : []),
  ];
  if (lists.every((l) => l.length === 0)) lists.push(...fromStatus.map((n) => n.port_mappings ?? []));
  return lists.flat().map((m) => ({
    hostPort: m.host_port,
    containerPort: m.container_port,
    protocol: (m.protocol ?? 'tcp').toLowerCase(),
  }));
}

const labelValue = (labels: readonly Label[] | undefined, key: string): string | undefined =>
  labels?.find((l) => l.key.toLowerCase() === key.toLowerCase())?.value;

const affinityOn = (v: string | undefined): boolean =>
  v !== undefined && ['client-ip', 'true', 'clientip'].includes(v.trim().toLowerCase());

/** Older SDK frameworks: task label `VIP_PORT<i>` = `tcp://<vip>` or `udp://<vip>` naming the
 *  i-th port of the task's port resources (specs/dcos-net.md §2.1). */
const LEGACY_KEY = /^vip_port(\d+)$/i;

type DiscoveryPort = NonNullable<NonNullable<NonNullable<MesosTask['discovery']>['ports']>['ports']>[number];

function legacyVipPorts(task: MesosTask, errors: VipLabelError[]): DiscoveryPort[] {
  const out: DiscoveryPort[] = [];
  const hostPorts = parsePortRanges(task.resources?.ports);
  for (const l of task.labels ?? []) {
    const m = LEGACY_KEY.exec(l.key);
    if (!m) continue;
    const value = l.value ?? '';
    const where = { task: task.id, label: l.key, value };
    const scheme = /^(tcp|udp):\/\/(.*)$/i.exec(value);
    if (!scheme) {
      errors.push({
        ...where,
        code: 'VIP_BAD_PROTOCOL',
        message: `"${value}" is not tcp://<vip> or udp://<vip>`,
      });
      continue;
    }
    const hostPort = hostPorts[Number(m[1])];
    if (hostPort === undefined) {
      errors.push({
        ...where,
        code: 'VIP_NO_SUCH_PORT',
        message: `the task has ${hostPorts.length} ports; there is no port ${m[1]}`,
      });
      continue;
    }
    out.push({
      number: hostPort,
      protocol: scheme[1]!.toLowerCase(),
      labels: {
        labels: [
          { key: l.key, value: scheme[2]! },
          { key: 'network-scope', value: 'host' },
        ],
      },
    });
  }
  return out;
}

interface Group {
  protocol: VipProtocol;
  port: number;
  named?: { label: string; framework: string; dnsName: string };
  ip?: { ip: string; family: Family };
  /** IP VIPs: the labels that declared it (a refusal names each of them). */
  declared: { task: string; label: string; value: string }[];
  affinity: boolean;
  backends: Map<string, Backend>;
}

/** The policy plus the addresses this state shows in use: agents, the leading master, tasks. */
function addressGuard(
  state: MesosState,
  agents: ReadonlyMap<string, string>,
  policy: VipAddressPolicy,
): VipAddressGuard {
  const guard = new VipAddressGuard(policy);
  const forbid = (ip: string, what: string): void => {
    const a = parseAddress(ip);
    if (a) guard.forbid(a.family, a.value, what);
  };
  const leader = state.leader === undefined ? undefined : ipOfPid(state.leader);
  if (leader) forbid(leader, 'the address of the leading Mesos master');
  for (const s of state.slaves) {
    const ip = agents.get(s.id);
    if (ip) forbid(ip, `the address of agent ${s.id}${s.hostname ? ` (${s.hostname})` : ''}`);
  }
  for (const fw of state.frameworks)
    for (const task of fw.tasks) for (const ip of taskIps(task)) forbid(ip, `the address of task ${task.id}`);
  return guard;
}

export function deriveVipTable(state: MesosState, opts: DeriveOptions = {}): Derived {
  const enableIpv6 = opts.enableIpv6 ?? true;
  const agents = new Map<string, string>();
  for (const s of state.slaves) {
    const ip = ipOfPid(s.pid) ?? (s.hostname && parseAddress(s.hostname) ? s.hostname : undefined);
    if (ip) agents.set(s.id, ip);
  }
  const guard = addressGuard(state, agents, opts.policy ?? DEFAULT_VIP_POLICY);
  const errors: VipLabelError[] = [];
  const groups = new Map<string, Group>();
  const group = (key: string, make: () => Group): Group => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = make()));
    return g;
  };

  for (const fw of state.frameworks) {
    for (const task of fw.tasks) {
      const ports = task.discovery?.ports?.ports ?? [];
      const vipPorts = [
        ...ports.filter((p) => p.labels?.labels?.some((l) => isVipLabelKey(l.key))),
        ...legacyVipPorts(task, errors),
      ];
      if (vipPorts.length === 0) continue;
      const agentIp = agents.get(task.slave_id);
      const status = latestStatus(task);
      // Parse labels even for tasks that are not serving, so that errors show at once.
      const serving = task.state === 'TASK_RUNNING' && status?.healthy !== false && agentIp !== undefined;
      const weight =
        status?.healthy === true || task.health_check === undefined ? FULL_WEIGHT : PROBATION_WEIGHT;
      const ips = taskIps(task);
      const hostNetworked = ips.length === 0 || (ips.length === 1 && ips[0] === agentIp);
      const mappings = portMappings(task);
      const taskAffinity = affinityOn(labelValue(task.labels, AFFINITY_LABEL));
      for (const p of vipPorts) {
        const labels = p.labels?.labels ?? [];
        const protocol = parseProtocol(p.protocol);
        const affinity = taskAffinity || affinityOn(labelValue(labels, AFFINITY_LABEL));
        const scope = labelValue(labels, 'network-scope')?.toLowerCase();
        const mapping = mappings.find(
          (m) => m.hostPort === p.number && (protocol === undefined || m.protocol === protocol),
        );
        const hostScope =
          scope === 'host' || (scope !== 'container' && (hostNetworked || mapping !== undefined));
        for (const l of labels.filter((x) => isVipLabelKey(x.key) || LEGACY_KEY.test(x.key))) {
          const value = l.value ?? '';
          const where = { task: task.id, label: l.key, value };
          if (protocol === undefined) {
            errors.push({
              ...where,
              code: 'VIP_BAD_PROTOCOL',
              message: `port ${p.number} has protocol "${p.protocol}"; only tcp and udp can have VIPs`,
            });
            continue;
          }
          const spec = parseVipValue(value);
          if ('error' in spec) {
            errors.push({ ...where, code: spec.error, message: spec.reason });
            continue;
          }
          let g: Group;
          if (spec.kind === 'named') {
            const dnsLabel = domainFrag(spec.name);
            const dnsFw = domainFrag(fw.name);
            if (dnsLabel === '' || dnsFw === '') {
              errors.push({
                ...where,
                code: 'VIP_NAME_UNUSABLE',
                message: `"${spec.name}" of framework "${fw.name}" leaves no DNS label once sanitised`,
              });
              continue;
            }
            const dnsName = namedVipName(spec.name, fw.name);
            g = group(`n ${protocol} ${spec.port} ${dnsName}`, () => ({
              protocol,
              port: spec.port,
              named: { label: spec.name, framework: fw.name, dnsName },
              declared: [],
              affinity: false,
              backends: new Map(),
            }));
          } else {
            const refused = guard.check(spec.ip, spec.family, parseAddress(spec.ip)!.value);
            if (refused) {
              errors.push({ ...where, code: refused.code, message: refused.message });
              continue;
            }
            g = group(`i ${protocol} ${spec.port} ${spec.ip}`, () => ({
              protocol,
              port: spec.port,
              ip: { ip: spec.ip, family: spec.family },
              declared: [],
              affinity: false,
              backends: new Map(),
            }));
            g.declared.push(where);
          }
          g.affinity ||= affinity;
          if (!serving || p.number <= 0) continue;
          const add = (b: Backend): void => {
            if (g.ip && parseAddress(b.ip)?.family !== g.ip.family) return;
            if (!enableIpv6 && parseAddress(b.ip)?.family === 6) return;
            const id = `${b.ip} ${b.port}`;
            if (!g.backends.has(id)) g.backends.set(id, b);
          };
          if (hostScope) {
            const containerIp = ips.find((ip) => ip !== agentIp && parseAddress(ip)?.family === 4);
            add({
              ip: agentIp,
              port: p.number,
              weight,
              agent: agentIp,
              task: task.id,
              ...(mapping && containerIp && { local: { ip: containerIp, port: mapping.containerPort } }),
            });
          } else {
            for (const ip of ips) add({ ip, port: p.number, weight, agent: agentIp, task: task.id });
          }
        }
      }
    }
  }

  // Concrete VIPs: IP VIPs as declared; named VIPs once per backend family, addressed by name.
  const named = [...groups.values()].filter((g) => g.named);
  const familyOf = (b: Backend): Family => parseAddress(b.ip)!.family;
  const namesByFamily = (f: Family): string[] =>
    named
      .filter(
        (g) => [...g.backends.values()].some((b) => familyOf(b) === f) || (f === 4 && g.backends.size === 0),
      )
      .map((g) => g.named!.dnsName);
  const names4 = namesByFamily(4);
  const names6 = enableIpv6 ? namesByFamily(6) : [];
  // A named VIP that is still declared keeps the address it was published with: an IP VIP on it
  // would take over that VIP's clients (stale DNS answers, open connections), so it is refused.
  const holders = new Map<string, string>();
  for (const [family, names] of [
    [4, names4],
    [6, names6],
  ] as const)
    for (const name of names) {
      const ip = opts.kept?.[family].get(name);
      if (ip !== undefined) holders.set(ip, name);
    }
  const ipVips = [...groups.values()].filter((g) => {
    if (!g.ip) return false;
    const holder = holders.get(g.ip.ip);
    if (holder === undefined) return true;
    for (const where of g.declared)
      errors.push({
        ...where,
        code: 'VIP_ADDRESS_TAKEN',
        message: `${g.ip.ip} is the address of the named VIP ${holder}; an IP VIP cannot take it over`,
      });
    return false;
  });
  const taken = ipVips.map((g) => g.ip!.ip);
  const addr4 = allocateNamed(names4, 4, opts.range4 ?? DEFAULT_RANGE4, taken, opts.kept?.[4]);
  const addr6 = enableIpv6
    ? allocateNamed(names6, 6, opts.range6 ?? DEFAULT_RANGE6, taken, opts.kept?.[6])
    : new Map<string, string>();

  const vips = new Map<string, Vip>();
  const sortBackends = (bs: Iterable<Backend>): Backend[] =>
    [...bs].sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1));
  const put = (v: Vip): void => {
    const key = vipKey(v);
    const prev = vips.get(key);
    if (prev) {
      // Two declarations on one address (an IP VIP written as a named VIP's address): one VIP.
      const all = new Map([...prev.backends, ...v.backends].map((b) => [`${b.ip} ${b.port}`, b]));
      vips.set(key, { ...prev, affinity: prev.affinity || v.affinity, backends: sortBackends(all.values()) });
    } else vips.set(key, v);
  };
  for (const g of ipVips) {
    put({
      protocol: g.protocol,
      ip: g.ip!.ip,
      port: g.port,
      family: g.ip!.family,
      ...(g.affinity && { affinity: true }),
      backends: sortBackends(g.backends.values()),
    });
  }
  for (const g of named) {
    for (const family of [4, 6] as const) {
      const ip = (family === 4 ? addr4 : addr6).get(g.named!.dnsName);
      if (ip === undefined) continue;
      const backends = [...g.backends.values()].filter((b) => familyOf(b) === family);
      if (backends.length === 0 && (family === 6 || g.backends.size > 0)) continue;
      put({
        protocol: g.protocol,
        ip,
        port: g.port,
        family,
        name: { label: g.named!.label, framework: g.named!.framework },
        ...(g.affinity && { affinity: true }),
        backends: sortBackends(backends),
      });
    }
  }
  const sorted = [...vips.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
  return { table: { vips: sorted }, errors };
}
