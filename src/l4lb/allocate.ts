// Named VIP → address (specs/dcos-net.md §2.3): IPv4 from `phash2(name, Q)`, IPv6 from SHA-1(name)
// mod Q, as dcos-l4lb computes them. Beyond the original, collisions are resolved from the whole
// sorted set of names (home addresses first, then probing in name order), so every node and every
// restart computes the same table whatever order the names were seen in.
import { createHash } from 'node:crypto';
import { formatAddress, parseAddress, type Family } from '../net/index.js';
import { phash2 } from './phash2.js';

export interface NamedRange {
  readonly min: string;
  readonly max: string;
}

/** DC/OS's configured ranges (`dcos_l4lb_min/max_named_ip(6)`). */
export const DEFAULT_RANGE4: NamedRange = { min: '11.0.0.0', max: '11.255.255.255' };
export const DEFAULT_RANGE6: NamedRange = { min: 'fd01:c::', max: 'fd01:c::ffff:ffff:ffff:ffff' };

export class OutOfAddressesError extends Error {
  constructor(readonly family: Family) {
    super(`no free named VIP address left in the IPv${family} range`);
  }
}

function bounds(range: NamedRange, family: Family): { min: bigint; q: bigint } {
  const min = parseAddress(range.min);
  const max = parseAddress(range.max);
  if (!min || !max || min.family !== family || max.family !== family || max.value <= min.value)
    throw new Error(`named VIP range ${range.min}-${range.max} is not an IPv${family} range`);
  return { min: min.value, q: max.value - min.value };
}

/** The offset dcos-l4lb starts from for a name. */
export function homeOffset(name: string, family: Family, q: bigint): bigint {
  if (family === 4) return BigInt(phash2(name, Number(q)));
  const digest = createHash('sha1').update(name, 'utf8').digest('hex');
  return BigInt(`0x${digest}`) % q;
}

/** Addresses for `names` (`label.framework`, sanitised); `taken` are addresses used otherwise (IP VIPs). */
export function allocateNamed(
  names: Iterable<string>,
  family: Family,
  range: NamedRange = family === 4 ? DEFAULT_RANGE4 : DEFAULT_RANGE6,
  taken: Iterable<string> = [],
  /** Addresses names already hold (the published table): kept while in range and not taken, so
   *  that a name appearing or disappearing never moves another name's VIP. */
  kept: ReadonlyMap<string, string> = new Map(),
): Map<string, string> {
  const { min, q } = bounds(range, family);
  const sorted = [...new Set(names)].sort();
  const used = new Set<bigint>();
  const offsetOf = (text: string): bigint | undefined => {
    const a = parseAddress(text);
    return a?.family === family && a.value >= min && a.value < min + q ? a.value - min : undefined;
  };
  for (const t of taken) {
    const off = offsetOf(t);
    if (off !== undefined) used.add(off);
  }
  const out = new Map<string, bigint>();
  for (const name of sorted) {
    const held = kept.get(name);
    const off = held === undefined ? undefined : offsetOf(held);
    if (off === undefined || used.has(off)) continue;
    used.add(off);
    out.set(name, off);
  }
  const losers: string[] = [];
  for (const name of sorted) {
    if (out.has(name)) continue;
    const home = homeOffset(name, family, q);
    if (used.has(home)) losers.push(name);
    else {
      used.add(home);
      out.set(name, home);
    }
  }
  for (const name of losers) {
    let offset = homeOffset(name, family, q);
    let tries = 0n;
    do {
      offset = offset + 1n === q ? 0n : offset + 1n;
      if (++tries > q) throw new OutOfAddressesError(family);
    } while (used.has(offset));
    used.add(offset);
    out.set(name, offset);
  }
  return new Map([...out].map(([name, off]) => [name, formatAddress(family, min + off)]));
}
