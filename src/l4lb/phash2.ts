// Erlang's `erlang:phash2(Binary, Range)` (specs/dcos-net.md §2.3): Bob Jenkins' lookup2 block
// hash over the bytes, seeded as the Erlang VM seeds binaries, then `mod Range`. dcos-l4lb picks a
// named VIP's address with it, so dcnet must reproduce it bit for bit.

const GOLDEN = 0x9e3779b9;
/** 13 × the golden ratio mod 2^32: the VM's seed for a binary at the top of a term. */
const BINARY_SEED = 0x08d12e65;

function mix(a: number, b: number, c: number): [number, number, number] {
  a = (a - b - c) >>> 0;
  a = (a ^ (c >>> 13)) >>> 0;
  b = (b - c - a) >>> 0;
  b = (b ^ (a << 8)) >>> 0;
  c = (c - a - b) >>> 0;
  c = (c ^ (b >>> 13)) >>> 0;
  a = (a - b - c) >>> 0;
  a = (a ^ (c >>> 12)) >>> 0;
  b = (b - c - a) >>> 0;
  b = (b ^ (a << 16)) >>> 0;
  c = (c - a - b) >>> 0;
  c = (c ^ (b >>> 5)) >>> 0;
  a = (a - b - c) >>> 0;
  a = (a ^ (c >>> 3)) >>> 0;
  b = (b - c - a) >>> 0;
  b = (b ^ (a << 10)) >>> 0;
  c = (c - a - b) >>> 0;
  c = (c ^ (b >>> 15)) >>> 0;
  return [a, b, c];
}

const word = (k: Uint8Array, i: number): number =>
  (k[i]! | (k[i + 1]! << 8) | (k[i + 2]! << 16) | (k[i + 3]! << 24)) >>> 0;

/** The VM's 32-bit hash of a binary (`make_hash2`). */
export function hashBinary(bytes: Uint8Array): number {
  if (bytes.length === 0) return BINARY_SEED;
  let a = GOLDEN;
  let b = GOLDEN;
  let c = BINARY_SEED;
  let i = 0;
  let len = bytes.length;
  while (len >= 12) {
    a = (a + word(bytes, i)) >>> 0;
    b = (b + word(bytes, i + 4)) >>> 0;
    c = (c + word(bytes, i + 8)) >>> 0;
    [a, b, c] = mix(a, b, c);
    i += 12;
    len -= 12;
  }
  c = (c + bytes.length) >>> 0;
  const k = (j: number): number => bytes[i + j]!;
  // The tail, as lookup2's fall-through switch adds it (c's low byte holds the length).
  if (len >= 11) c = (c + (k(10) << 24)) >>> 0;
  if (len >= 10) c = (c + (k(9) << 16)) >>> 0;
  if (len >= 9) c = (c + (k(8) << 8)) >>> 0;
  if (len >= 8) b = (b + (k(7) << 24)) >>> 0;
  if (len >= 7) b = (b + (k(6) << 16)) >>> 0;
  if (len >= 6) b = (b + (k(5) << 8)) >>> 0;
  if (len >= 5) b = (b + k(4)) >>> 0;
  if (len >= 4) a = (a + (k(3) << 24)) >>> 0;
  if (len >= 3) a = (a + (k(2) << 16)) >>> 0;
  if (len >= 2) a = (a + (k(1) << 8)) >>> 0;
  if (len >= 1) a = (a + k(0)) >>> 0;
  [a, b, c] = mix(a, b, c);
  return c;
}

/** `erlang:phash2(<<Text/utf8>>, Range)`: 0 ≤ result < range. */
export function phash2(text: string | Uint8Array, range: number): number {
  if (!Number.isInteger(range) || range < 1 || range > 2 ** 32) throw new RangeError(`range ${range}`);
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  return hashBinary(bytes) % range;
}
