// dcos-dns internal zones (specs/dcos-net.md §1.4/§1.5), answered like erldns: REFUSED when no zone
// owns the name, NXDOMAIN / NODATA with the zone SOA (TTL lowered to the SOA minimum, as erldns'
// minimum_soa_ttl does), CNAME chains followed inside and across zones (loop → SERVFAIL), ANY
// returns every record, RA=0, answers rotated by message id (leading CNAMEs keep their order),
// A/AAAA glue for SRV/NS targets held locally, truncation to the EDNS0 size or 512 with TC.
//
// Record tails (type…RDATA) are encoded once in setZone(); a query only copies them. Each zone is
// replaced as a whole object, so a query sees either the old or the new zone.
import type { DnsHandler, HandlerContext } from './types.js';
import {
  DEFAULT_MAX_UDP_PAYLOAD,
  encodeName,
  FLAG,
  MAX_TCP_MESSAGE,
  RCODE,
  TYPE,
  fqdn,
  optRecord,
  replyFor,
  rrA,
  rrAAAA,
  rrSOA,
  rrSRV,
  rrHead,
  writeLimited,
  type DnsQuery,
  type SoaFields,
  type WireRr,
} from './wire.js';

/** Records of one zone; names absolute or relative-free fqdns (`a.b.thisdcos.directory[.]`). */
export interface ZoneData {
  readonly a?: ReadonlyMap<string, Iterable<string>>;
  readonly aaaa?: ReadonlyMap<string, Iterable<string>>;
  /** SRV values `target:port` (target with or without trailing dot). */
  readonly srv?: ReadonlyMap<string, Iterable<string>>;
  /** CNAME: owner → target. */
  readonly cname?: ReadonlyMap<string, string>;
}

export type LoadBalance = 'round_robin' | 'random' | 'disabled';

export interface ZoneResponderOptions {
  readonly loadBalance?: LoadBalance;
  readonly maxUdpPayload?: number;
}

export const ZONE_TTL = 5;
export const ZONE_NS_TTL = 3600;
export const ZONE_SOA: Omit<SoaFields, 'serial'> & { serial: number } = {
  mname: 'ns.spartan.',
  rname: 'support.mesosphere.com.',
  serial: 1,
  refresh: 60,
  retry: 180,
  expire: 86400,
  minimum: 1,
};

/** A record as stored: the encoded tail, plus what is needed to rename names inside it. */
interface Rec {
  readonly type: number;
  readonly tail: Buffer;
  /** For records with a name in RDATA: the name (CNAME/SRV/NS target) used for chasing/glue. */
  readonly target?: string;
  /** CNAME/NS: `tail` is only the head and the target is written (compressed) as RDATA. */
  readonly compress?: boolean;
  readonly rebuild?: (rename: (n: string) => string) => Buffer;
}

interface Entry {
  readonly a: Rec[];
  readonly aaaa: Rec[];
  readonly srv: Rec[];
  cname?: Rec;
  soa?: Rec;
  ns?: Rec;
}

interface Zone {
  readonly origin: string;
  readonly names: Map<string, Entry>;
  /** Empty non-terminals: names with descendants but no records (NODATA, not NXDOMAIN). */
  readonly ents: Set<string>;
  /** The SOA for negative answers: TTL = min(TTL, MINIMUM). */
  readonly negSoa: WireRr;
}

export interface Rename {
  /** Suffix the records live under (`l4lb.thisdcos.directory.`). */
  readonly internal: string;
  /** Suffix the client asked for (`dclb.thisdcos.global.`). */
  readonly external: string;
}

interface Out {
  owner: string | undefined;
  rec: Rec;
}

const soaRebuild =
  (ttl: number) =>
  (rename: (n: string) => string): Buffer =>
    rrSOA({ ...ZONE_SOA, mname: rename(ZONE_SOA.mname), rname: rename(ZONE_SOA.rname) }, ttl);

const REPLY_CACHE_MAX = 50_000;

export class ZoneResponder {
  private zones = new Map<string, Zone>();
  /** Built replies, dropped at every zone change. */
  private replies = new Map<string, { n: number; byRotation: Buffer[] }>();
  private readonly loadBalance: LoadBalance;
  private readonly maxUdpPayload: number;
  readonly handler: DnsHandler = (_bytes, q, ctx) => this.answer(q, ctx);

  constructor(opts: ZoneResponderOptions = {}) {
    this.loadBalance = opts.loadBalance ?? 'round_robin';
    this.maxUdpPayload = opts.maxUdpPayload ?? DEFAULT_MAX_UDP_PAYLOAD;
  }

  /** Zone origins currently served (with trailing dots). */
  origins(): string[] {
    return [...this.zones.keys()];
  }

  /** Replaces one zone atomically. Throws (changing nothing) when a name lies outside `origin`. */
  setZone(origin: string, data: ZoneData): void {
    const o = fqdn(origin);
    const inZone = (field: string, name: string): string => {
      const n = fqdn(name);
      try {
        encodeName(n);
      } catch (e) {
        throw new Error(`zone ${o}: ${field} record: ${(e as Error).message}`);
      }
      if (n !== o && !n.endsWith(o === '.' ? '.' : `.${o}`)) {
        throw new Error(`zone ${o}: ${field} record "${name}" is outside the zone`);
      }
      return n;
    };
    const names = new Map<string, Entry>();
    const entry = (n: string): Entry => {
      let e = names.get(n);
      if (!e) names.set(n, (e = { a: [], aaaa: [], srv: [] }));
      return e;
    };
    for (const [name, ips] of data.a ?? []) {
      const e = entry(inZone('a', name));
      for (const ip of ips) e.a.push({ type: TYPE.A, tail: rrA(ip, ZONE_TTL) });
    }
    for (const [name, ips] of data.aaaa ?? []) {
      const e = entry(inZone('aaaa', name));
      for (const ip of ips) e.aaaa.push({ type: TYPE.AAAA, tail: rrAAAA(ip, ZONE_TTL) });
    }
    for (const [name, values] of data.srv ?? []) {
      const e = entry(inZone('srv', name));
      for (const v of values) {
        const i = v.lastIndexOf(':');
        const port = Number(v.slice(i + 1));
        if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
          throw new Error(`zone ${o}: srv "${name}" value "${v}" is not target:port`);
        }
        const target = fqdn(v.slice(0, i));
        encodeName(target);
        e.srv.push({
          type: TYPE.SRV,
          tail: rrSRV(1, 1, port, target, ZONE_TTL),
          target,
          rebuild: (rn) => rrSRV(1, 1, port, rn(target), ZONE_TTL),
        });
      }
    }
    for (const [name, targetText] of data.cname ?? []) {
      const n = inZone('cname', name);
      const target = fqdn(targetText);
      encodeName(target);
      const e = entry(n);
      e.cname = { type: TYPE.CNAME, tail: rrHead(TYPE.CNAME, ZONE_TTL), target, compress: true };
    }
    const apex = entry(o);
    apex.soa = { type: TYPE.SOA, tail: rrSOA(ZONE_SOA, ZONE_TTL), rebuild: soaRebuild(ZONE_TTL) };
    apex.ns = { type: TYPE.NS, tail: rrHead(TYPE.NS, ZONE_NS_TTL), target: ZONE_SOA.mname, compress: true };
    const ents = new Set<string>();
    for (const n of names.keys()) {
      let p = n;
      while (p !== o) {
        const i = p.indexOf('.');
        if (i < 0 || i === p.length - 1) break;
        p = p.slice(i + 1);
        if (p === o || names.has(p)) break;
        ents.add(p);
      }
    }
    const negTtl = Math.min(ZONE_TTL, ZONE_SOA.minimum);
    this.replies = new Map();
    this.zones = new Map(this.zones).set(o, {
      origin: o,
      names,
      ents,
      negSoa: { owner: o, tail: rrSOA(ZONE_SOA, negTtl) },
    });
  }

  deleteZone(origin: string): boolean {
    const o = fqdn(origin);
    if (!this.zones.has(o)) return false;
    const next = new Map(this.zones);
    next.delete(o);
    this.zones = next;
    this.replies = new Map();
    return true;
  }

  /** The zone owning `lname` (longest origin that is a suffix), if any. */
  zoneFor(lname: string): Zone | undefined {
    const zones = this.zones;
    let s = lname;
    for (;;) {
      const z = zones.get(s);
      if (z) return z;
      if (s === '.') return undefined;
      const i = s.indexOf('.');
      if (i < 0) return undefined;
      s = i === s.length - 1 ? '.' : s.slice(i + 1);
    }
  }

  /** True when `origin` is one of the zones served. */
  hasZone(origin: string): boolean {
    return this.zones.has(fqdn(origin));
  }

  /** True when some zone owns the name (the router uses this for REFUSED decisions). */
  owns(name: string): boolean {
    return this.zoneFor(fqdn(name)) !== undefined;
  }

  /**
   * The reply to `q`. With `rename`, `lookup` is the internal name to resolve and every name in
   * the reply under `rename.internal` is written back under `rename.external`.
   */
  answer(
    q: DnsQuery,
    ctx: Pick<HandlerContext, 'transport' | 'maxUdpSize'>,
    lookup: string = q.lname,
    rename?: Rename,
  ): Buffer {
    const limit =
      ctx.transport === 'tcp'
        ? MAX_TCP_MESSAGE
        : q.edns
          ? Math.min(q.edns.udpSize, this.maxUdpPayload, ctx.maxUdpSize)
          : 512;
    if (rename !== undefined || this.loadBalance === 'random')
      return this.build(q, limit, lookup, rename).buf;
    // Replies are kept per (name, type, size limit, OPT, rotation) until the next zone change; a
    // hit only patches the ID, the RD/CD bits and the question's case.
    const key = `${lookup}|${q.qtype}|${limit}|${q.edns ? 1 : 0}`;
    const cache = this.replies;
    let entry = cache.get(key);
    const k = entry && entry.n > 1 ? q.id % entry.n : 0;
    const hit = entry?.byRotation[k];
    if (hit && hit.length >= 12 + q.question.length) {
      const out = Buffer.allocUnsafe(hit.length);
      hit.copy(out);
      out.writeUInt16BE(q.id, 0);
      out.writeUInt16BE((hit.readUInt16BE(2) & ~(FLAG.RD | FLAG.CD)) | (q.flags & (FLAG.RD | FLAG.CD)), 2);
      q.question.copy(out, 12);
      return out;
    }
    const built = this.build(q, limit, lookup, rename);
    if (!entry || entry.n !== built.n) {
      if (cache.size >= REPLY_CACHE_MAX) cache.clear();
      entry = { n: built.n, byRotation: [] };
      cache.set(key, entry);
    }
    entry.byRotation[built.n > 1 ? q.id % built.n : 0] = built.buf;
    return built.buf;
  }

  private build(
    q: DnsQuery,
    limit: number,
    lookup: string,
    rename: Rename | undefined,
  ): { buf: Buffer; n: number } {
    let rotation = 1;
    const answers: Out[] = [];
    let authority: WireRr[] = [];
    let rcode: number = RCODE.NOERROR;
    let name = lookup;
    let owner: string | undefined = undefined;
    const visited = new Set<string>();
    let first = true;
    for (;;) {
      const zone = this.zoneFor(name);
      if (!zone) {
        if (first) return { buf: replyFor(q, RCODE.REFUSED), n: 1 };
        break; // a CNAME pointing outside the local zones: the chain ends here
      }
      first = false;
      const e = zone.names.get(name);
      if (!e) {
        rcode = zone.ents.has(name) ? RCODE.NOERROR : RCODE.NXDOMAIN;
        authority = [zone.negSoa];
        break;
      }
      if (e.cname && q.qtype !== TYPE.CNAME && q.qtype !== TYPE.ANY) {
        if (visited.has(name) || visited.size >= 16) return { buf: replyFor(q, RCODE.SERVFAIL), n: 1 };
        visited.add(name);
        answers.push({ owner, rec: e.cname });
        name = e.cname.target!;
        owner = name;
        continue;
      }
      const recs = this.select(e, q.qtype);
      if (recs.length === 0) {
        authority = [zone.negSoa];
        break;
      }
      const start = answers.length;
      for (const rec of recs) answers.push({ owner, rec });
      this.balance(answers, start, q.id);
      if (this.loadBalance === 'round_robin') rotation = recs.length;
      break;
    }
    // Glue for SRV/NS targets that live in a local zone.
    const additional: Out[] = [];
    const glued = new Set<string>();
    for (const { rec } of answers) {
      if ((rec.type !== TYPE.SRV && rec.type !== TYPE.NS) || glued.has(rec.target!)) continue;
      glued.add(rec.target!);
      const t = this.zoneFor(rec.target!)?.names.get(rec.target!);
      if (!t) continue;
      for (const g of t.a) additional.push({ owner: rec.target, rec: g });
      for (const g of t.aaaa) additional.push({ owner: rec.target, rec: g });
    }
    const rn = rename ? renamer(rename) : undefined;
    const wire = (o: Out): WireRr => {
      const owner = o.owner === undefined ? undefined : rn ? rn(o.owner) : o.owner;
      if (o.rec.compress) return { owner, tail: o.rec.tail, name: rn ? rn(o.rec.target!) : o.rec.target! };
      return { owner, tail: rn && o.rec.rebuild ? o.rec.rebuild(rn) : o.rec.tail };
    };
    if (rn && authority.length > 0) {
      authority = [
        {
          owner: rn(this.zoneFor(name)!.origin),
          tail: soaRebuild(Math.min(ZONE_TTL, ZONE_SOA.minimum))(rn),
        },
      ];
    }
    const opt = q.edns ? optRecord(this.maxUdpPayload) : undefined;
    const buf = writeLimited(
      {
        query: q,
        flags: FLAG.AA,
        rcode,
        answer: answers.map(wire),
        authority,
        additional: additional.map(wire),
        opt,
      },
      limit,
      'fit',
    );
    return { buf, n: rotation };
  }

  private select(e: Entry, qtype: number): Rec[] {
    switch (qtype) {
      case TYPE.A:
        return e.a;
      case TYPE.AAAA:
        return e.aaaa;
      case TYPE.SRV:
        return e.srv;
      case TYPE.CNAME:
        return e.cname ? [e.cname] : [];
      case TYPE.SOA:
        return e.soa ? [e.soa] : [];
      case TYPE.NS:
        return e.ns ? [e.ns] : [];
      case TYPE.ANY: {
        const out: Rec[] = [];
        if (e.cname) out.push(e.cname);
        if (e.soa) out.push(e.soa);
        if (e.ns) out.push(e.ns);
        return out.concat(e.a, e.aaaa, e.srv);
      }
      default:
        return [];
    }
  }

  /** Rotates/shuffles answers[start..] (records after the CNAME prefix). */
  private balance(answers: Out[], start: number, id: number): void {
    const n = answers.length - start;
    if (n < 2 || this.loadBalance === 'disabled') return;
    const part = answers.splice(start);
    if (this.loadBalance === 'random') {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [part[i], part[j]] = [part[j]!, part[i]!];
      }
      answers.push(...part);
      return;
    }
    const k = id % n;
    for (let i = 0; i < n; i++) answers.push(part[(i + k) % n]!);
  }
}

function renamer(r: Rename): (n: string) => string {
  const internal = fqdn(r.internal);
  const external = fqdn(r.external);
  return (n: string): string => {
    const l = n.toLowerCase();
    if (l === internal) return external;
    if (l.endsWith(`.${internal}`)) return n.slice(0, n.length - internal.length) + external;
    return n;
  };
}
