// Typed values for everything that can reach the kernel (ip, bridge, nft, sysctl, CNI, Docker):
// branded strings and numbers that only a parser below can make. A value of type `Mac` has been
// checked to be a unicast MAC in canonical lowercase form, an `IfName` a Linux interface name that
// is also one safe token in iproute2's batch syntax, and so on. Callers parse where a value enters
// the process (store reads, master answers, config, HTTP bodies); `src/kernel/` re-checks every
// field when it renders a command (the `is*` guards), so that a hostile string smuggled in through
// a cast is refused there too. Pure: no I/O.
import { formatAddress, formatCidr, networkOf, parseAddress, parseCidr } from './ip.js';

declare const BRAND: unique symbol;
/** `T` that only the parser for `B` produces (a compile-time mark; no run-time cost). */
export type Branded<T, B extends string> = T & { readonly [BRAND]: B };

/** IPv4 dotted quad, no leading zeros. */
export type Ipv4 = Branded<string, 'Ipv4'>;
/** IPv6 in RFC 5952 form (lowercase, first longest zero run compressed), no zone. */
export type Ipv6 = Branded<string, 'Ipv6'>;
export type IpAddr = Ipv4 | Ipv6;
/** `address/prefix` in canonical text; host bits are kept (an interface address is a CIDR too). */
export type Ipv4Cidr = Branded<string, 'Ipv4Cidr'>;
export type Ipv6Cidr = Branded<string, 'Ipv6Cidr'>;
export type IpCidr = Ipv4Cidr | Ipv6Cidr;
/** Unicast, non-zero, lowercase `xx:xx:xx:xx:xx:xx`. */
export type Mac = Branded<string, 'Mac'>;
/** A Linux interface name that is also a single safe token for `ip`/`bridge` batch input. */
export type IfName = Branded<string, 'IfName'>;
/** 1–65535. */
export type Port = Branded<number, 'Port'>;
/** An overlay network name (DC/OS grammar): becomes bridge names, a CNI file name, a Docker network. */
export type OverlayName = Branded<string, 'OverlayName'>;
/** Free text that is shown or hashed but never reaches a command (labels, task ids): printable,
 *  bounded, no control or line-breaking characters. */
export type LabelText = Branded<string, 'LabelText'>;

/** Why a value was refused, naming the field it came from (e.g. `vtep.mac`). */
export class InputError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'InputError';
  }
}

export type ParseResult<T> = T | InputError;

/** A value quoted for an error message: JSON-escaped (a newline shows as \n) and cut short. */
export function quote(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 66 ? `${text.slice(0, 60)}…(${text.length} chars)` : text;
}

const fail = (field: string, value: unknown, why: string): InputError =>
  new InputError(field, `${quote(value)} ${why}`);

// ---- addresses ----------------------------------------------------------------------------------

/** Exactly the canonical dotted quads (no leading zeros): the fast path, since VIP tables and
 *  their re-checks in kernel/ parse tens of thousands of these. */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const PREFIX4 = /^(?:3[0-2]|[12]?\d)$/;

export function parseIpv4(value: unknown, field = 'ip'): ParseResult<Ipv4> {
  if (typeof value === 'string' && IPV4.test(value)) return value as Ipv4;
  if (typeof value !== 'string') return fail(field, value, 'is not a string');
  const a = parseAddress(value);
  if (!a || a.family !== 4) return fail(field, value, 'is not an IPv4 address (a.b.c.d)');
  return formatAddress(4, a.value) as Ipv4;
}

export function parseIpv6(value: unknown, field = 'ip6'): ParseResult<Ipv6> {
  if (typeof value !== 'string') return fail(field, value, 'is not a string');
  const a = parseAddress(value);
  if (!a || a.family !== 6) return fail(field, value, 'is not an IPv6 address');
  return formatAddress(6, a.value) as Ipv6;
}

export function parseIpAddr(value: unknown, field = 'ip'): ParseResult<IpAddr> {
  if (typeof value === 'string' && IPV4.test(value)) return value as Ipv4;
  if (typeof value !== 'string') return fail(field, value, 'is not a string');
  const a = parseAddress(value);
  if (!a) return fail(field, value, 'is not an IP address');
  return formatAddress(a.family, a.value) as IpAddr;
}

export const ipFamily = (ip: IpAddr | IpCidr): 4 | 6 => (ip.includes(':') ? 6 : 4);

function parseCidrOf(value: unknown, field: string, family: 4 | 6 | undefined): ParseResult<IpCidr> {
  const what = family === undefined ? 'an IP CIDR' : `an IPv${family} CIDR`;
  if (typeof value !== 'string') return fail(field, value, 'is not a string');
  const slash = value.indexOf('/');
  if (family !== 6 && IPV4.test(value.slice(0, slash)) && PREFIX4.test(value.slice(slash + 1)))
    return value as Ipv4Cidr;
  const prefixText = value.slice(slash + 1);
  const a = slash > 0 ? parseAddress(value.slice(0, slash)) : undefined;
  if (!a || (family !== undefined && a.family !== family) || !/^\d{1,3}$/.test(prefixText))
    return fail(field, value, `is not ${what} (address/prefix)`);
  const prefix = Number(prefixText);
  if (prefix > (a.family === 4 ? 32 : 128)) return fail(field, value, `has prefix /${prefix}, too long`);
  return `${formatAddress(a.family, a.value)}/${prefix}` as IpCidr;
}

export const parseIpv4Cidr = (value: unknown, field = 'cidr'): ParseResult<Ipv4Cidr> =>
  parseCidrOf(value, field, 4) as ParseResult<Ipv4Cidr>;
export const parseIpv6Cidr = (value: unknown, field = 'cidr6'): ParseResult<Ipv6Cidr> =>
  parseCidrOf(value, field, 6) as ParseResult<Ipv6Cidr>;
export const parseIpCidr = (value: unknown, field = 'cidr'): ParseResult<IpCidr> =>
  parseCidrOf(value, field, undefined);

/** An address as a host CIDR (`/32`, `/128`): how the kernel prints a host route's destination. */
export const hostCidr = (ip: IpAddr): IpCidr => `${ip}/${ipFamily(ip) === 4 ? 32 : 128}` as IpCidr;

/** The CIDR with its host bits cleared (peers may publish unmasked text). */
export const cidrNetwork = <C extends IpCidr>(cidr: C): C => {
  const c = parseCidr(cidr)!;
  return formatCidr({ ...c, addr: networkOf(c) }) as C;
};

/** The address part of a CIDR. */
export const cidrAddress = <C extends IpCidr>(cidr: C): C extends Ipv4Cidr ? Ipv4 : Ipv6 =>
  cidr.slice(0, cidr.indexOf('/')) as C extends Ipv4Cidr ? Ipv4 : Ipv6;

// ---- links ----------------------------------------------------------------------------------------

export function parseMac(value: unknown, field = 'mac'): ParseResult<Mac> {
  if (typeof value !== 'string') return fail(field, value, 'is not a string');
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value))
    return fail(field, value, 'is not a MAC address (xx:xx:xx:xx:xx:xx)');
  const mac = value.toLowerCase();
  if (mac === '00:00:00:00:00:00') return fail(field, value, 'is the zero MAC');
  if (parseInt(mac.slice(0, 2), 16) & 1) return fail(field, value, 'is a multicast MAC');
  return mac as Mac;
}

/** Interface names: what Linux accepts (1–15 bytes, no '/', ':', whitespace or control characters,
 *  not '.' or '..'), narrowed to letters, digits, '_', '.' and '-' starting alphanumeric: one plain
 *  token for iproute2's batch reader ('#' starts a comment anywhere on a line there, quotes group
 *  words) and never an option. The names dcnet makes (vtep1024, m-/d-<overlay>) and the usual
 *  uplinks (eth0, enp0s3, br-1a2b, eth0.100) fit; an interface with other characters is left alone. */
export function parseIfName(value: unknown, field = 'ifname'): ParseResult<IfName> {
  if (typeof value !== 'string') return fail(field, value, 'is not a string');
  if (value.length < 1 || value.length > 15) return fail(field, value, 'must be 1 to 15 characters');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(value))
    return fail(field, value, "may only hold letters, digits, '_', '.' and '-', starting alphanumeric");
  return value as IfName;
}

export function parsePort(value: unknown, field = 'port'): ParseResult<Port> {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535)
    return fail(field, value, 'is not a port (an integer from 1 to 65535)');
  return value as Port;
}

// ---- names ----------------------------------------------------------------------------------------

export const RESERVED_OVERLAY_NAMES = ['host', 'bridge', 'default', 'none'] as const;
/** 15-character Linux interface names minus the `m-`/`d-` bridge prefix. */
export const MAX_OVERLAY_NAME_LENGTH = 13;
const OVERLAY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The DC/OS overlay name rules (specs/overlay.md §2.1) plus the character set dcnet has always
 *  required: letters, digits, '_', '.', '-', starting alphanumeric. So `m-<name>` is an interface
 *  name, `<name>.conflist` stays inside the CNI directory and the Docker network name is plain. */
export function parseOverlayName(value: unknown, field = 'name'): ParseResult<OverlayName> {
  if (typeof value !== 'string') return fail(field, value, 'is not a string');
  if (value === '') return new InputError(field, 'must not be empty');
  if (value.length > MAX_OVERLAY_NAME_LENGTH)
    return fail(
      field,
      value,
      `is too long: at most ${MAX_OVERLAY_NAME_LENGTH} characters (bridge names m-<name>/d-<name> must fit Linux's 15-character interface names)`,
    );
  if (!OVERLAY_NAME.test(value))
    return fail(field, value, "may only contain letters, digits, '_', '.' and '-', starting alphanumeric");
  if ((RESERVED_OVERLAY_NAMES as readonly string[]).includes(value))
    return fail(field, value, `is reserved (${RESERVED_OVERLAY_NAMES.join(', ')})`);
  return value as OverlayName;
}

// Control (Cc), format (Cf: bidi overrides, zero-width), line/paragraph separators, lone surrogates.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/** Free text under a grammar: 1–`max` characters, none of them control, format or line breaks. */
export function parseLabelText(value: unknown, field = 'label', max = 255): ParseResult<LabelText> {
  if (typeof value !== 'string') return fail(field, value, 'is not a string');
  if (value.length === 0 || value.length > max) return fail(field, value, `must be 1 to ${max} characters`);
  if (UNPRINTABLE.test(value)) return fail(field, value, 'holds control or line-breaking characters');
  return value as LabelText;
}

// ---- guards (for re-checking typed values where they are rendered) ------------------------------

const same =
  <T>(parse: (v: unknown) => ParseResult<T>) =>
  (v: unknown): v is T =>
    parse(v) === v;

export const isIpv4 = same(parseIpv4);
export const isIpv6 = same(parseIpv6);
export const isIpAddr = same(parseIpAddr);
export const isIpv4Cidr = same(parseIpv4Cidr);
export const isIpv6Cidr = same(parseIpv6Cidr);
export const isIpCidr = same(parseIpCidr);
export const isMac = same(parseMac);
export const isIfName = same(parseIfName);
export const isPort = same(parsePort);
export const isOverlayName = same(parseOverlayName);

/** Throws the parser's InputError: for constants and tests, where a bad value is a bug. */
export function must<T>(r: ParseResult<T>): T {
  if (r instanceof InputError) throw r;
  return r;
}
