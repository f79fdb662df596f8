// IPv4/IPv6 addresses and CIDRs as bigints, so that one set of arithmetic serves both families
// (the original's IPv6 successor skipped subnets; see README "Differences from DC/OS").
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

/** A CIDR as written: `addr` keeps host bits (DC/OS echoes them); use `networkOf` for the masked base. */
export interface Cidr {
  readonly family: Family;
  readonly addr: bigint;
  readonly prefix: number;
}

export function familyBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

function bytesToBigint(bytes: readonly number[]): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function bigintToBytes(value: bigint, length: number): number[] {
  const out = new Array<number>(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return out;
}

/** Parses a plain address; IPv4 must be a dotted quad (no `10.1` or octal shorthands), IPv6 no zone. */
export function parseAddress(text: string): Address | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { family: 4, value: bytesToBigint(ipaddr.IPv4.parse(text).toByteArray()) };
  }
  if (!text.includes('%') && ipaddr.IPv6.isValid(text)) {
    return { family: 6, value: bytesToBigint(ipaddr.IPv6.parse(text).toByteArray()) };
  }
  return undefined;
}

export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseAddress(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > familyBits(addr.family)) return undefined;
  return { family: addr.family, addr: addr.value, prefix };
}

/** IPv4 dotted quad; IPv6 in RFC 5952 form (first longest zero run compressed), as glibc prints it. */
export function formatAddress(family: Family, value: bigint): string {
  if (family === 4) return bigintToBytes(value, 4).join('.');
  return new ipaddr.IPv6(bigintToBytes(value, 16)).toRFC5952String();
}

export function formatCidr(cidr: Cidr): string {
  return `${formatAddress(cidr.family, cidr.addr)}/${cidr.prefix}`;
}

function hostMask(family: Family, prefix: number): bigint {
  return (1n << BigInt(familyBits(family) - prefix)) - 1n;
}

/** The masked network address. */
export function networkOf(cidr: Cidr): bigint {
  return cidr.addr & ~hostMask(cidr.family, cidr.prefix);
}

/** The last address of the range (the IPv4 broadcast address). */
export function lastOf(cidr: Cidr): bigint {
  return networkOf(cidr) | hostMask(cidr.family, cidr.prefix);
}

/** Number of addresses in the range. */
export function sizeOf(cidr: Cidr): bigint {
  return 1n << BigInt(familyBits(cidr.family) - cidr.prefix);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && networkOf(a) <= lastOf(b) && networkOf(b) <= lastOf(a);
}

export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    inner.prefix >= outer.prefix &&
    networkOf(outer) <= networkOf(inner) &&
    lastOf(inner) <= lastOf(outer)
  );
}

export function addressInCidr(cidr: Cidr, family: Family, value: bigint): boolean {
  return cidr.family === family && networkOf(cidr) <= value && value <= lastOf(cidr);
}

/** The `index`-th `/prefix` network inside `pool` (index 0 = the pool's own network address). */
export function nthSubnet(pool: Cidr, prefix: number, index: bigint): Cidr {
  const step = 1n << BigInt(familyBits(pool.family) - prefix);
  return { family: pool.family, addr: networkOf(pool) + index * step, prefix };
}

/** Halves of a subnet: the lower keeps the address, the upper sets the next bit. */
export function halves(subnet: Cidr): [Cidr, Cidr] {
  const lower = { family: subnet.family, addr: networkOf(subnet), prefix: subnet.prefix + 1 };
  const upper = { ...lower, addr: lower.addr + sizeOf(lower) };
  return [lower, upper];
}
