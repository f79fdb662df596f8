// Mesos-DNS label sanitising (specs/mesos-dns.md §1.3), reproduced exactly, quirks included:
// conformance tests and existing users' names depend on it.

export type LabelSpec = 'rfc1123' | 'rfc952';

const LIMITS: Record<LabelSpec, { max: number; start: RegExp }> = {
  rfc1123: { max: 63, start: /^-+/ },
  rfc952: { max: 24, start: /^[-0-9]+/ },
};

/** A-Z lower-cased; a-z, 0-9 kept; '-', '.', '_' become '-'; every other code point dropped. */
function mapChars(name: string): string {
  let out = '';
  for (const ch of name) {
    if (ch >= 'A' && ch <= 'Z') out += ch.toLowerCase();
    else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) out += ch;
    else if (ch === '-' || ch === '.' || ch === '_') out += '-';
  }
  return out;
}

/** One DNS label from an arbitrary name (may be empty). */
export function labelSpec(name: string, spec: LabelSpec = 'rfc1123'): string {
  const { max, start } = LIMITS[spec];
  const mapped = mapChars(name).replace(start, '');
  const size = Math.min(mapped.length, max);
  const head = mapped.slice(0, size);
  const trimmed = head.replace(/-+$/, '');
  if (trimmed === head) return trimmed;
  // Refill once from what follows; the refilled tail is not trimmed again (upstream quirk).
  const rest = mapped.slice(size).replace(/^-+/, '');
  return trimmed + rest.slice(0, size - trimmed.length);
}

/** A dotted domain fragment: each dot-separated piece sanitised, empty pieces dropped. */
export function domainFrag(name: string, spec: LabelSpec = 'rfc1123'): string {
  return name
    .split('.')
    .map((piece) => labelSpec(piece, spec))
    .filter((p) => p !== '')
    .join('.');
}
