// dcos-net's label sanitiser (`mesos_state:label/1`, specs/dcos-net.md §1.6), which differs from
// Mesos-DNS's: leading separators are dropped, long names are cut at 63 without hashing. Used for
// the `*.thisdcos.directory` names of tasks and VIPs.

const isAlnum = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
const MAX = 63;

/** One DNS label as dcos-net derives it from an arbitrary name (may come out empty). */
export function dcosLabel(name: string): string {
  let out = '';
  let started = false;
  let alnumOnly = false;
  const text = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (!started) {
      if (!isAlnum(c)) continue;
      started = true;
    }
    if (alnumOnly) {
      if (out.length >= MAX) break;
      if (isAlnum(c)) out += c;
      continue;
    }
    if (isAlnum(c)) out += c;
    else if (c === '-' || c === '_' || c === '.') out += '-';
    else continue;
    if (out.length >= MAX && i < text.length - 1) {
      // Full with input left: cut the separators at the end, then fill up with letters and digits only.
      out = out.replace(/-+$/, '');
      alnumOnly = true;
    }
  }
  return out.replace(/-+$/, '');
}

/** A dotted fragment: pieces split on '.', empty pieces dropped, each sanitised with `dcosLabel`. */
export function dcosDomainFrag(name: string): string {
  return name
    .split('.')
    .filter((p) => p !== '')
    .map(dcosLabel)
    .join('.');
}
