// MAC addresses of VTEPs: an operator's OUI followed by the low 24 bits of the VTEP IPv4 address.

export type Oui = readonly [number, number, number];

/** Parses `XX:XX:XX:00:00:00`; returns an error text naming what is wrong. */
export function parseOui(text: string): Oui | string {
  const tokens = text.split(':');
  if (tokens.length !== 6) return `"${text}" must have six ':'-separated hex bytes`;
  const bytes: number[] = [];
  for (const t of tokens) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(t)) return `"${text}": "${t}" is not a hex byte`;
    bytes.push(parseInt(t, 16));
  }
  if (bytes[0]! & 1) return `"${text}": the first byte must be even (a multicast OUI makes no VTEP MAC)`;
  if (bytes[3] !== 0 || bytes[4] !== 0 || bytes[5] !== 0) {
    return `"${text}": the least significant three bytes must be zero (they come from the VTEP IP)`;
  }
  return [bytes[0]!, bytes[1]!, bytes[2]!];
}

const hex = (b: number): string => b.toString(16).padStart(2, '0');

/** Lowercase `xx:xx:xx:xx:xx:xx`: OUI bytes, then bytes 2–4 of the IPv4 address. */
export function vtepMac(oui: Oui, ipv4: bigint): string {
  const low = [Number((ipv4 >> 16n) & 0xffn), Number((ipv4 >> 8n) & 0xffn), Number(ipv4 & 0xffn)];
  return [...oui, ...low].map(hex).join(':');
}
