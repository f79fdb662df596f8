// Who may use the forwarders (never an open resolver), and where upstreams come from by default
// (the host's resolv.conf minus the host's own addresses; never a hard-coded public resolver).
import { networkInterfaces } from 'node:os';
import { addressInCidr, formatAddress, parseAddress, parseCidr, type Cidr } from '../../net/index.js';
import type { Upstream } from './types.js';

/**
 * Clients allowed to have names forwarded by default: loopback, RFC 1918, RFC 6598 shared space,
 * link-local, IPv6 ULA, and the DC/OS overlay defaults (198.51.100.0/24 spartan, 9.0.0.0/8 dcos).
 */
export const DEFAULT_FORWARD_ALLOW = [
  '127.0.0.0/8',
  '::1/128',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '169.254.0.0/16',
  'fe80::/10',
  'fc00::/7',
  '198.51.100.0/24',
  '9.0.0.0/8',
] as const;

export class AllowList {
  private readonly cidrs: Cidr[];
  private readonly cache = new Map<string, boolean>();

  /** `what` names the list in errors. */
  constructor(cidrs: readonly string[] = DEFAULT_FORWARD_ALLOW, what = 'forward allow-list') {
    this.cidrs = cidrs.map((text, i) => {
      const c =
        parseCidr(text) ?? (parseAddress(text) && parseCidr(`${text}/${text.includes(':') ? 128 : 32}`));
      if (!c) throw new Error(`${what}[${i}]: "${text}" is not a CIDR or address`);
      return c;
    });
  }

  allows(address: string): boolean {
    const hit = this.cache.get(address);
    if (hit !== undefined) return hit;
    // Dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d.
    const text =
      address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
    const a = parseAddress(text);
    const ok = a !== undefined && this.cidrs.some((c) => addressInCidr(c, a.family, a.value));
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(address, ok);
    return ok;
  }
}

/** `ip`, `ip:port`, `[v6]:port` → upstream (port 53 when absent). */
export function parseUpstream(text: string, defaultPort = 53): Upstream {
  const t = text.trim();
  let host = t;
  let port = defaultPort;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  const v4 = /^([^:]+):(\d+)$/.exec(t);
  if (v6) {
    host = v6[1]!;
    if (v6[2]) port = Number(v6[2]);
  } else if (v4) {
    host = v4[1]!;
    port = Number(v4[2]);
  }
  const a = parseAddress(host);
  if (!a || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`upstream "${text}" is not ip, ip:port or [ipv6]:port`);
  }
  return { host: formatAddress(a.family, a.value), port };
}

/** Every address of the host's interfaces (canonical text). */
export function hostAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) {
      const a = parseAddress(i.address.split('%')[0]!);
      if (a) out.add(formatAddress(a.family, a.value));
    }
  }
  return out;
}

/**
 * Nameservers of a resolv.conf text, minus the host's own addresses (a dcos-dns/Mesos-DNS that
 * the host's resolv.conf points at must not forward to itself), port 53.
 */
export function upstreamsFromResolvConf(
  text: string,
  own: ReadonlySet<string> = hostAddresses(),
): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const a = parseAddress(m[1]!.split('%')[0]!);
    if (!a) continue;
    const host = formatAddress(a.family, a.value);
    if (own.has(host) || out.some((u) => u.host === host)) continue;
    out.push({ host, port: 53 });
  }
  return out;
}
