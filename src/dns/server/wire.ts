// DNS wire helpers for the hot path: a bounds-checked parser for the header, the first question
// and the EDNS0 OPT of a query (no full decode), record encoders producing "RR tails" (type, class,
// TTL, RDLENGTH, RDATA without the owner name) that are precomputed once per record set, and a
// response writer that assembles header + echoed question + RRs into one buffer. Owner names equal
// to the question are written as a compression pointer to offset 12. Everything unusual (answers
// that need a full decode, truncating a relayed reply) goes through dns-packet instead.
import dnsPacket from 'dns-packet';

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  AXFR: 252,
  ANY: 255,
} as const;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

export const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
export const rcodeName = (rc: number): string => RCODE_NAMES[rc] ?? `RCODE${rc}`;

export const FLAG = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;

/** Largest UDP payload we ever answer with, whatever the client advertises (RFC 6891 §6.2.5). */
export const DEFAULT_MAX_UDP_PAYLOAD = 4096;
export const MAX_TCP_MESSAGE = 65535;

export interface Edns {
  /** Advertised UDP payload size (values under 512 are treated as 512). */
  readonly udpSize: number;
  readonly version: number;
  /** The DO bit. */
  readonly dnssecOk: boolean;
}

/** A query as far as the server needs it: header fields, the first question, the EDNS0 OPT. */
export interface DnsQuery {
  readonly id: number;
  /** The 16 flag bits of the header (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode). */
  readonly flags: number;
  readonly opcode: number;
  readonly qdcount: number;
  /** Question name as sent, with a trailing dot (`Leader.Mesos.`), `.` for the root. */
  readonly name: string;
  /** `name` lower-cased: the lookup key. */
  readonly lname: string;
  readonly qtype: number;
  readonly qclass: number;
  /** The first question in wire form (uncompressed name, type, class), to echo in the answer. */
  readonly question: Buffer;
  readonly edns: Edns | undefined;
}

export type ParseResult =
  | { readonly ok: true; readonly query: DnsQuery }
  /** Header readable but the rest is not: answer FORMERR (or NOTIMP) with this header. */
  | {
      readonly ok: false;
      readonly id: number;
      readonly flags: number;
      readonly rcode: number;
      readonly reason: string;
      readonly question?: Buffer;
    }
  /** Not worth an answer (no header, or a response rather than a query). */
  | undefined;

class WireError extends Error {}

const MAX_NAME_WIRE = 255;

/** Reads a (possibly compressed) name at `off`; returns the dotted text and the offset after it. */
export function readName(buf: Buffer, off: number): { name: string; end: number; compressed: boolean } {
  let name = '';
  let end = -1;
  let pos = off;
  let wireLen = 0;
  let jumps = 0;
  for (;;) {
    if (pos >= buf.length) throw new WireError('name runs past the end');
    const len = buf[pos]!;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      wireLen += 1;
      if (wireLen > MAX_NAME_WIRE) throw new WireError('name longer than 255 octets');
      return { name: name === '' ? '.' : name, end, compressed: jumps > 0 };
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw new WireError('compression pointer runs past the end');
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      // Only backwards pointers: that alone makes loops impossible; the jump cap is belt and braces.
      if (target >= pos || ++jumps > 64) throw new WireError('bad compression pointer');
      if (end < 0) end = pos + 2;
      pos = target;
      continue;
    }
    if (kind !== 0) throw new WireError('unsupported label type');
    if (pos + 1 + len > buf.length) throw new WireError('label runs past the end');
    wireLen += len + 1;
    if (wireLen > MAX_NAME_WIRE) throw new WireError('name longer than 255 octets');
    name += labelText(buf, pos + 1, pos + 1 + len) + '.';
    pos += len + 1;
  }
}

/**
 * The common case, fast: an uncompressed name of plain printable labels, decoded with a single
 * native call. Undefined for anything else (readName handles it, or reports the error).
 */
function plainName(buf: Buffer, off: number): { name: string; end: number } | undefined {
  let pos = off;
  for (;;) {
    if (pos >= buf.length) return undefined;
    const len = buf[pos]!;
    if (len === 0) break;
    if (len > 63 || pos + 1 + len > buf.length) return undefined;
    for (let i = pos + 1; i <= pos + len; i++) {
      const c = buf[i]!;
      if (c === 0x2e || c === 0x5c || c <= 0x20 || c >= 0x7f) return undefined;
    }
    pos += len + 1;
  }
  const end = pos + 1;
  if (end - off > MAX_NAME_WIRE) return undefined;
  if (end - off === 1) return { name: '.', end };
  const raw = buf.toString('latin1', off, end - 1);
  let name = '';
  for (let p = 0; p < raw.length;) {
    const len = raw.charCodeAt(p);
    name += raw.substring(p + 1, p + 1 + len) + '.';
    p += len + 1;
  }
  return { name, end };
}

function labelText(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x2e || c === 0x5c || c <= 0x20 || c >= 0x7f) return escapedLabel(buf, start, end);
  }
  return buf.toString('latin1', start, end);
}

/** Presentation form (RFC 1035 §5.1) of a label holding dots, backslashes or non-printables. */
function escapedLabel(buf: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c <= 0x20 || c >= 0x7f) s += '\\' + String(c).padStart(3, '0');
    else s += String.fromCharCode(c);
  }
  return s;
}

/** Skips one RR at `off`; returns the offset after it (throws when it does not fit). */
function skipRr(buf: Buffer, off: number): { type: number; end: number; ttlAt: number } {
  const { end } = readName(buf, off);
  if (end + 10 > buf.length) throw new WireError('record header runs past the end');
  const type = buf.readUInt16BE(end);
  const rdlen = buf.readUInt16BE(end + 8);
  const after = end + 10 + rdlen;
  if (after > buf.length) throw new WireError('record data runs past the end');
  return { type, end: after, ttlAt: end + 4 };
}

/** Parses what a server needs from a query. Never throws. */
export function parseQuery(buf: Buffer): ParseResult {
  if (buf.length < 12) return undefined;
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & FLAG.QR) return undefined;
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  const nscount = buf.readUInt16BE(8);
  const arcount = buf.readUInt16BE(10);
  const opcode = (flags >> 11) & 0xf;
  if (qdcount === 0) return { ok: false, id, flags, rcode: RCODE.FORMERR, reason: 'no question' };
  let name: string;
  let question: Buffer;
  let off: number;
  try {
    const n = plainName(buf, 12) ?? readName(buf, 12);
    if (n.end + 4 > buf.length) throw new WireError('question runs past the end');
    name = n.name;
    off = n.end + 4;
    question =
      'compressed' in n && n.compressed
        ? Buffer.concat([encodeName(name), buf.subarray(n.end, n.end + 4)])
        : buf.subarray(12, off);
  } catch (e) {
    return { ok: false, id, flags, rcode: RCODE.FORMERR, reason: (e as Error).message };
  }
  if (opcode !== 0) {
    return { ok: false, id, flags, rcode: RCODE.NOTIMP, reason: 'opcode', question };
  }
  let edns: Edns | undefined;
  if (arcount > 0 || qdcount > 1 || ancount > 0 || nscount > 0) {
    try {
      let pos = off;
      for (let i = 1; i < qdcount; i++) {
        pos = readName(buf, pos).end + 4;
        if (pos > buf.length) throw new WireError('question runs past the end');
      }
      for (let i = 0; i < ancount + nscount; i++) pos = skipRr(buf, pos).end;
      for (let i = 0; i < arcount; i++) {
        const start = pos;
        const rr = skipRr(buf, pos);
        pos = rr.end;
        if (rr.type !== TYPE.OPT) continue;
        if (edns) throw new WireError('more than one OPT record');
        if (buf[start] !== 0) throw new WireError('OPT owner is not the root');
        edns = {
          udpSize: Math.max(512, buf.readUInt16BE(start + 3)),
          version: buf[start + 6]!,
          dnssecOk: (buf[start + 7]! & 0x80) !== 0,
        };
      }
    } catch (e) {
      return { ok: false, id, flags, rcode: RCODE.FORMERR, reason: (e as Error).message, question };
    }
  }
  const lname = name.toLowerCase();
  return {
    ok: true,
    query: {
      id,
      flags,
      opcode,
      qdcount,
      name,
      lname,
      qtype: question.readUInt16BE(question.length - 4),
      qclass: question.readUInt16BE(question.length - 2),
      question,
      edns,
    },
  };
}

const nameCache = new Map<string, Buffer>();

/** Wire form of a dotted name (trailing dot optional; `\.` and `\DDD` escapes understood). */
export function encodeName(name: string): Buffer {
  const hit = nameCache.get(name);
  if (hit) return hit;
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  const parts: Buffer[] = [];
  if (text !== '') {
    for (const label of splitLabels(text)) {
      if (label.length === 0) throw new Error(`empty label in DNS name "${name}"`);
      if (label.length > 63) throw new Error(`label longer than 63 octets in DNS name "${name}"`);
      parts.push(Buffer.from([label.length]), label);
    }
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > MAX_NAME_WIRE) throw new Error(`DNS name "${name}" longer than 255 octets`);
  if (nameCache.size > 100_000) nameCache.clear();
  nameCache.set(name, out);
  return out;
}

function splitLabels(text: string): Buffer[] {
  if (!text.includes('\\')) return text.split('.').map((l) => Buffer.from(l, 'latin1'));
  const out: Buffer[] = [];
  let cur: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      const digits = text.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(digits)) {
        cur.push(Number(digits) & 0xff);
        i += 3;
      } else {
        cur.push(text.charCodeAt(i + 1) & 0xff);
        i += 1;
      }
    } else if (c === '.') {
      out.push(Buffer.from(cur));
      cur = [];
    } else cur.push(text.charCodeAt(i) & 0xff);
  }
  out.push(Buffer.from(cur));
  return out;
}

/** Lower-case, absolute (trailing dot) form of a configured name. */
export function fqdn(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
}

// ---- record tails -------------------------------------------------------------------------

function tail(type: number, ttl: number, rdata: Buffer): Buffer {
  const out = Buffer.allocUnsafe(10 + rdata.length);
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(1, 2); // class IN
  out.writeUInt32BE(ttl >>> 0, 4);
  out.writeUInt16BE(rdata.length, 8);
  rdata.copy(out, 10);
  return out;
}

export function ipv4Bytes(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: "${ip}"`);
  }
  return Buffer.from(parts);
}

export function ipv6Bytes(ip: string): Buffer {
  let text = ip;
  const out = Buffer.alloc(16);
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tailBytes: Buffer | undefined;
  if (v4) {
    tailBytes = ipv4Bytes(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`not an IPv6 address: "${ip}"`);
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups =
    halves.length === 2
      ? [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest]
      : head;
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) {
    throw new Error(`not an IPv6 address: "${ip}"`);
  }
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (tailBytes) tailBytes.copy(out, 12);
  return out;
}

export const rrA = (ip: string, ttl: number): Buffer => tail(TYPE.A, ttl, ipv4Bytes(ip));
export const rrAAAA = (ip: string, ttl: number): Buffer => tail(TYPE.AAAA, ttl, ipv6Bytes(ip));
export const rrCNAME = (target: string, ttl: number): Buffer => tail(TYPE.CNAME, ttl, encodeName(target));
export const rrNS = (target: string, ttl: number): Buffer => tail(TYPE.NS, ttl, encodeName(target));

export function rrSRV(priority: number, weight: number, port: number, target: string, ttl: number): Buffer {
  const t = encodeName(target);
  const rdata = Buffer.allocUnsafe(6 + t.length);
  rdata.writeUInt16BE(priority, 0);
  rdata.writeUInt16BE(weight, 2);
  rdata.writeUInt16BE(port, 4);
  t.copy(rdata, 6);
  return tail(TYPE.SRV, ttl, rdata);
}

export interface SoaFields {
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
}

export function rrSOA(soa: SoaFields, ttl: number): Buffer {
  const m = encodeName(soa.mname);
  const r = encodeName(soa.rname);
  const rdata = Buffer.allocUnsafe(m.length + r.length + 20);
  m.copy(rdata, 0);
  r.copy(rdata, m.length);
  let o = m.length + r.length;
  for (const v of [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum]) {
    rdata.writeUInt32BE(v >>> 0, o);
    o += 4;
  }
  return tail(TYPE.SOA, ttl, rdata);
}

/** The OPT pseudo-record we echo: root owner, our payload size, extended rcode, version 0. */
export function optRecord(udpSize: number, extRcode = 0): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt16BE(TYPE.OPT, 1);
  b.writeUInt16BE(udpSize, 3);
  b[5] = extRcode;
  return b;
}

// ---- response writer ----------------------------------------------------------------------

/**
 * One RR to write. `owner`: an absolute name (exact case) or undefined = the question name
 * (a pointer to offset 12). `tail`: type…RDATA, or with `name` only type, class and TTL (8 octets):
 * the RDATA is then `name`, written with compression (CNAME, NS).
 */
export interface WireRr {
  readonly owner: string | undefined;
  readonly tail: Buffer;
  readonly name?: string;
}

/** The CNAME/NS form of WireRr: 8-octet head (type, class IN, TTL) and the target name. */
export function rrHead(type: number, ttl: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(1, 2);
  out.writeUInt32BE(ttl >>> 0, 4);
  return out;
}

export interface ResponseParts {
  readonly query: DnsQuery;
  /** Flag bits to set besides QR/opcode/RD/CD (which come from the query): AA, RA, TC. */
  readonly flags: number;
  readonly rcode: number;
  readonly answer: readonly WireRr[];
  readonly authority?: readonly WireRr[];
  readonly additional?: readonly WireRr[];
  /** An OPT record to append (always last, never dropped by truncation). */
  readonly opt?: Buffer | undefined;
}

const nameBound = (name: string): number => name.length + 2;

/**
 * Header + question + RRs, with names compressed (RFC 1035 §4.1.4) against the question and every
 * name written before. The question suffixes are only used with their exact case, so owner names
 * keep the case they were given.
 */
export function writeResponse(p: ResponseParts): Buffer {
  const q = p.query;
  const auth = p.authority ?? [];
  const add = p.additional ?? [];
  let bound = 12 + q.question.length + (p.opt ? p.opt.length : 0);
  for (const list of [p.answer, auth, add]) {
    for (const rr of list) {
      bound += (rr.owner ? nameBound(rr.owner) : 2) + rr.tail.length + (rr.name ? nameBound(rr.name) + 2 : 0);
    }
  }
  const out = Buffer.allocUnsafe(bound);
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(
    FLAG.QR |
      (q.flags & (0x7800 | FLAG.RD | FLAG.CD)) |
      (p.flags & (FLAG.AA | FLAG.TC | FLAG.RA)) |
      (p.rcode & 0xf),
    2,
  );
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(p.answer.length, 6);
  out.writeUInt16BE(auth.length, 8);
  out.writeUInt16BE(add.length + (p.opt ? 1 : 0), 10);
  q.question.copy(out, 12);
  let o = 12 + q.question.length;
  let dict: Map<string, number> | undefined;
  const seed = (): Map<string, number> => {
    const d = new Map<string, number>();
    if (!q.name.includes('\\') && q.name !== '.') {
      let s = q.name;
      let at = 12;
      for (;;) {
        d.set(s, at);
        const i = s.indexOf('.');
        if (i < 0 || i === s.length - 1) break;
        at += i + 1;
        s = s.slice(i + 1);
      }
    }
    return d;
  };
  const writeName = (name: string): void => {
    if (name.includes('\\')) {
      o += encodeName(name).copy(out, o);
      return;
    }
    dict ??= seed();
    let s = name;
    while (s !== '.' && s !== '') {
      const ptr = dict.get(s);
      if (ptr !== undefined) {
        out.writeUInt16BE(0xc000 | ptr, o);
        o += 2;
        return;
      }
      if (o < 0x3fff) dict.set(s, o);
      let i = s.indexOf('.');
      if (i < 0) i = s.length;
      out[o] = i;
      o += 1 + out.write(s.slice(0, i), o + 1, 'latin1');
      s = s.slice(i + 1);
    }
    out[o++] = 0;
  };
  for (const list of [p.answer, auth, add]) {
    for (const rr of list) {
      if (rr.owner === undefined) {
        out[o++] = 0xc0;
        out[o++] = 12;
      } else writeName(rr.owner);
      o += rr.tail.copy(out, o);
      if (rr.name !== undefined) {
        const lenAt = o;
        o += 2;
        writeName(rr.name);
        out.writeUInt16BE(o - lenAt - 2, lenAt);
      }
    }
  }
  if (p.opt) o += p.opt.copy(out, o);
  return out.subarray(0, o);
}

/**
 * Writes `p`, fitting it into `limit` octets the way `mode` says when it is larger:
 *  - 'mesos' (Mesos-DNS §3.7): drop ADDITIONAL; if the size is still not below the limit, keep the
 *    most answers for which the size is below the limit; authority is never dropped.
 *  - 'fit': drop ADDITIONAL, then answers from the end, then AUTHORITY, until size <= limit.
 * TC is set when anything was dropped and `setTc`. The OPT is always kept.
 */
export function writeLimited(p: ResponseParts, limit: number, mode: 'mesos' | 'fit', setTc = true): Buffer {
  const full = writeResponse(p);
  if (full.length <= limit) return full;
  const base: ResponseParts = { ...p, additional: [], flags: setTc ? p.flags | FLAG.TC : p.flags & ~FLAG.TC };
  const fits = (b: Buffer): boolean => (mode === 'mesos' ? b.length < limit : b.length <= limit);
  let best = writeResponse(base);
  if (fits(best)) return best;
  let lo = 0;
  let hi = p.answer.length;
  best = writeResponse({ ...base, answer: [] });
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    const b = writeResponse({ ...base, answer: p.answer.slice(0, mid) });
    if (fits(b)) {
      lo = mid;
      best = b;
    } else hi = mid - 1;
  }
  if (best.length > limit && mode === 'fit') best = writeResponse({ ...base, answer: [], authority: [] });
  return best;
}

/** A reply without records: REFUSED, SERVFAIL, FORMERR… (question echoed when known). */
export function errorReply(
  id: number,
  queryFlags: number,
  rcode: number,
  question?: Buffer,
  extraFlags = 0,
): Buffer {
  const qlen = question ? question.length : 0;
  const out = Buffer.alloc(12 + qlen);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(FLAG.QR | (queryFlags & (0x7800 | FLAG.RD | FLAG.CD)) | extraFlags | (rcode & 0xf), 2);
  if (question) {
    out.writeUInt16BE(1, 4);
    question.copy(out, 12);
  }
  return out;
}

export const replyFor = (q: DnsQuery, rcode: number, extraFlags = 0): Buffer =>
  errorReply(q.id, q.flags, rcode, q.question, extraFlags);

/** UDP payload limit for an answer to `q`: the client's EDNS0 size (capped), else 512. */
export function udpLimit(q: DnsQuery, cap = DEFAULT_MAX_UDP_PAYLOAD): number {
  return q.edns ? Math.min(Math.max(512, q.edns.udpSize), cap) : 512;
}

// ---- walking a whole message (relayed replies, cache) -------------------------------------

export interface MessageShape {
  readonly id: number;
  readonly flags: number;
  readonly rcode: number;
  readonly counts: readonly [number, number, number, number];
  /** Offsets of the TTL fields of every RR except OPT, with their section (1 an, 2 ns, 3 ar). */
  readonly ttls: { at: number; section: number; type: number }[];
  /** SOA records in AUTHORITY: their TTL and MINIMUM. */
  readonly soa: { ttl: number; minimum: number }[];
  readonly questionEnd: number;
}

/** Walks a complete message (a reply from an upstream); undefined when it is malformed. */
export function walkMessage(buf: Buffer): MessageShape | undefined {
  try {
    if (buf.length < 12) return undefined;
    const counts = [
      buf.readUInt16BE(4),
      buf.readUInt16BE(6),
      buf.readUInt16BE(8),
      buf.readUInt16BE(10),
    ] as const;
    let pos = 12;
    for (let i = 0; i < counts[0]; i++) {
      pos = readName(buf, pos).end + 4;
      if (pos > buf.length) return undefined;
    }
    const questionEnd = pos;
    const ttls: MessageShape['ttls'] = [];
    const soa: MessageShape['soa'] = [];
    for (let section = 1; section <= 3; section++) {
      for (let i = 0; i < counts[section]!; i++) {
        const rr = skipRr(buf, pos);
        if (rr.type !== TYPE.OPT) ttls.push({ at: rr.ttlAt, section, type: rr.type });
        if (section === 2 && rr.type === TYPE.SOA && rr.end - 4 >= rr.ttlAt + 6) {
          soa.push({ ttl: buf.readUInt32BE(rr.ttlAt), minimum: buf.readUInt32BE(rr.end - 4) });
        }
        pos = rr.end;
      }
    }
    const flags = buf.readUInt16BE(2);
    return { id: buf.readUInt16BE(0), flags, rcode: flags & 0xf, counts, ttls, soa, questionEnd };
  } catch {
    return undefined;
  }
}

/**
 * Truncates a relayed reply to `limit` octets the Mesos-DNS way (§3.7): drop ADDITIONAL (an OPT
 * is kept), then the fewest answers from the end; TC set when anything was dropped and
 * `setTc`. Falls back to header + question with TC when the reply cannot be decoded.
 */
export function truncateMessage(buf: Buffer, limit: number, setTc = true): Buffer {
  if (buf.length <= limit) return buf;
  let msg: dnsPacket.Packet;
  try {
    msg = dnsPacket.decode(buf);
  } catch {
    const shape = walkMessage(buf);
    const qEnd = shape ? shape.questionEnd : 12;
    const out = Buffer.from(buf.subarray(0, Math.min(qEnd, limit)));
    out.writeUInt16BE(out.length > 12 ? 1 : 0, 4);
    out.fill(0, 6, 12);
    if (setTc) out.writeUInt16BE(out.readUInt16BE(2) | FLAG.TC, 2);
    return out;
  }
  const opt = (msg.additionals ?? []).filter((r) => r.type === 'OPT');
  const answers = msg.answers ?? [];
  const build = (n: number): Buffer =>
    dnsPacket.encode({
      ...msg,
      flags: ((msg.flags ?? 0) & ~FLAG.TC) | (setTc ? FLAG.TC : 0),
      answers: answers.slice(0, n),
      additionals: opt,
    });
  let best = build(0);
  let lo = 0;
  let hi = answers.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    const b = build(mid);
    if (b.length < limit) {
      lo = mid;
      best = b;
    } else hi = mid - 1;
  }
  return best.length <= limit ? best : best.subarray(0, limit);
}
