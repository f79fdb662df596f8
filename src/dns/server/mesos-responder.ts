// The authoritative Mesos-domain responder (specs/mesos-dns.md §3.2–3.8), quirks included:
// SOA/NS in AUTHORITY, SRV for unknown names is an empty NOERROR, ANY on an unknown name carries
// SOA, NS, SOA, `.*` is stripped from the lookup name, A/AAAA owners are the normalised name while
// SRV/SOA/NS owners echo the question, answers are shuffled, and truncation drops ADDITIONAL first
// then the fewest answers from the end ("size < limit").
//
// Deliberate difference from Mesos-DNS (required by the dcnet issue): EDNS0. The original never
// adds an OPT to its replies, so a client advertising 4096 octets still got 512-octet UDP replies.
// When the query carries an OPT we honour the client's UDP size (capped at `maxUdpPayload`) and
// echo an OPT in the reply; `honourEdns: false` restores the original 512-octet behaviour.
import type { RecordSet } from '../mesos/index.js';
import type { DnsHandler, HandlerContext } from './types.js';
import {
  DEFAULT_MAX_UDP_PAYLOAD,
  FLAG,
  MAX_TCP_MESSAGE,
  RCODE,
  TYPE,
  encodeName,
  fqdn,
  optRecord,
  rrA,
  rrAAAA,
  rrNS,
  rrSOA,
  rrSRV,
  writeLimited,
  type DnsQuery,
  type ResponseParts,
  type WireRr,
} from './wire.js';

export interface MesosResponderOptions {
  /** The Mesos domain (`mesos`). */
  readonly domain: string;
  readonly soaMname?: string;
  readonly soaRname?: string;
  readonly soaRefresh?: number;
  readonly soaRetry?: number;
  readonly soaExpire?: number;
  /** TTL of every record, and the SOA MINIMUM (the original ignores SOAMinttl on the wire). */
  readonly ttl?: number;
  readonly srvWeight?: number;
  readonly recurseOn?: boolean;
  readonly setTruncateBit?: boolean;
  /** Honour the client's EDNS0 UDP size and echo an OPT (dcnet extension, default true). */
  readonly honourEdns?: boolean;
  readonly maxUdpPayload?: number;
}

interface SrvValue {
  readonly tail: Buffer;
  readonly target: string;
}

interface NameEntry {
  readonly a: Buffer[];
  readonly aaaa: Buffer[];
  readonly srv: SrvValue[];
}

interface Data {
  readonly names: Map<string, NameEntry>;
  /** First A / AAAA of a name, as an additional RR with its owner written out. */
  readonly glueA: Map<string, WireRr>;
  readonly glueAAAA: Map<string, WireRr>;
  readonly soa: WireRr;
  readonly ns: WireRr;
}

function checkName(name: string, field: string): void {
  try {
    encodeName(name);
  } catch (e) {
    throw new Error(`${field}: ${(e as Error).message}`);
  }
}

const EMPTY: NameEntry = { a: [], aaaa: [], srv: [] };

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = xs[i]!;
    xs[i] = xs[j]!;
    xs[j] = t;
  }
  return xs;
}

export class MesosResponder {
  readonly domain: string;
  private readonly o: Required<Omit<MesosResponderOptions, 'domain'>>;
  private data: Data;
  private serialNow = 0;
  /** Bound handler for `DnsServer` zones. */
  readonly handler: DnsHandler = (_bytes, q, ctx) => this.answer(q, ctx);

  constructor(opts: MesosResponderOptions) {
    this.domain = fqdn(opts.domain);
    this.o = {
      soaMname: fqdn(opts.soaMname ?? `ns1.${this.domain}`),
      soaRname: fqdn(opts.soaRname ?? `root.ns1.${this.domain}`),
      soaRefresh: opts.soaRefresh ?? 60,
      soaRetry: opts.soaRetry ?? 600,
      soaExpire: opts.soaExpire ?? 86400,
      ttl: opts.ttl ?? 60,
      srvWeight: opts.srvWeight ?? 1,
      recurseOn: opts.recurseOn ?? true,
      setTruncateBit: opts.setTruncateBit ?? true,
      honourEdns: opts.honourEdns ?? true,
      maxUdpPayload: opts.maxUdpPayload ?? DEFAULT_MAX_UDP_PAYLOAD,
    };
    this.data = this.build({ a: new Map(), aaaa: new Map(), srv: new Map() }, 0);
  }

  get serial(): number {
    return this.serialNow;
  }

  /** Replaces every record at once; queries see either the old or the new set, never a mix. */
  setRecords(records: RecordSet, serial: number): void {
    this.data = this.build(records, serial);
    this.serialNow = serial;
  }

  private build(rs: RecordSet, serial: number): Data {
    const { ttl } = this.o;
    const names = new Map<string, NameEntry>();
    const entry = (name: string): NameEntry => {
      const key = fqdn(name);
      checkName(key, 'records');
      let e = names.get(key);
      if (!e) names.set(key, (e = { a: [], aaaa: [], srv: [] }));
      return e;
    };
    const glueA = new Map<string, WireRr>();
    const glueAAAA = new Map<string, WireRr>();
    for (const [name, ips] of rs.a) {
      const e = entry(name);
      for (const ip of ips) e.a.push(rrA(ip, ttl));
      if (e.a[0]) glueA.set(fqdn(name), { owner: fqdn(name), tail: e.a[0] });
    }
    for (const [name, ips] of rs.aaaa) {
      const e = entry(name);
      for (const ip of ips) e.aaaa.push(rrAAAA(ip, ttl));
      if (e.aaaa[0]) glueAAAA.set(fqdn(name), { owner: fqdn(name), tail: e.aaaa[0] });
    }
    for (const [name, values] of rs.srv) {
      const e = entry(name);
      for (const v of values) {
        const i = v.lastIndexOf(':');
        const target = fqdn(v.slice(0, i));
        const port = Number(v.slice(i + 1));
        checkName(target, `records.srv["${name}"] target`);
        if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
          throw new Error(`records.srv["${name}"]: value "${v}" is not target:port`);
        }
        e.srv.push({ target, tail: rrSRV(0, this.o.srvWeight, port, target, ttl) });
      }
    }
    const soa = rrSOA(
      {
        mname: this.o.soaMname,
        rname: this.o.soaRname,
        serial,
        refresh: this.o.soaRefresh,
        retry: this.o.soaRetry,
        expire: this.o.soaExpire,
        minimum: ttl,
      },
      ttl,
    );
    return {
      names,
      glueA,
      glueAAAA,
      soa: { owner: undefined, tail: soa },
      ns: { owner: undefined, tail: rrNS(this.o.soaMname, ttl) },
    };
  }

  /** The reply to one query for a name inside the domain. */
  answer(q: DnsQuery, ctx: Pick<HandlerContext, 'transport' | 'maxUdpSize'>): Buffer {
    const d = this.data;
    const n = q.lname.includes('.*') ? q.lname.replaceAll('.*', '') : q.lname;
    const e = d.names.get(n) ?? EMPTY;
    const exists = e !== EMPTY;
    // A/AAAA owners are the normalised name: a pointer to the question only when identical.
    const addrOwner = n === q.name ? undefined : n;
    const addr = (tails: Buffer[]): WireRr[] => tails.map((tail) => ({ owner: addrOwner, tail }));
    let answer: WireRr[] = [];
    let authority: WireRr[] = [];
    const additional: WireRr[] = [];
    let rcode: number = RCODE.NOERROR;
    let srvs: SrvValue[] = [];
    switch (q.qtype) {
      case TYPE.A:
      case TYPE.AAAA: {
        answer = shuffle(addr(q.qtype === TYPE.A ? e.a : e.aaaa));
        if (answer.length === 0) {
          rcode = exists ? RCODE.NOERROR : RCODE.NXDOMAIN;
          authority = [d.soa];
        }
        break;
      }
      case TYPE.SRV:
        srvs = shuffle([...e.srv]);
        answer = srvs.map((s) => ({ owner: undefined, tail: s.tail }));
        break;
      case TYPE.SOA:
        authority = [d.soa];
        break;
      case TYPE.NS:
        authority = [d.ns];
        break;
      case TYPE.ANY: {
        const all: (WireRr & { srv?: SrvValue })[] = [
          ...e.srv.map((s) => ({ owner: undefined, tail: s.tail, srv: s })),
          ...addr(e.a),
          ...addr(e.aaaa),
        ];
        shuffle(all);
        answer = all;
        srvs = all.flatMap((r) => (r.srv ? [r.srv] : []));
        authority = [d.soa, d.ns];
        if (!exists) {
          rcode = RCODE.NXDOMAIN;
          authority.push(d.soa); // QUIRK kept: SOA, NS, SOA on the empty path.
        }
        break;
      }
      default:
        rcode = exists ? RCODE.NOERROR : RCODE.NXDOMAIN;
        authority = [d.soa];
    }
    if (srvs.length > 0) {
      const seen = new Set<string>();
      for (const s of srvs) {
        if (seen.has(s.target)) continue;
        seen.add(s.target);
        const a = d.glueA.get(s.target);
        if (a) additional.push(a);
        const aaaa = d.glueAAAA.get(s.target);
        if (aaaa) additional.push(aaaa);
      }
    }
    const useOpt = this.o.honourEdns && q.edns !== undefined;
    const limit =
      ctx.transport === 'tcp'
        ? MAX_TCP_MESSAGE
        : useOpt
          ? Math.min(q.edns!.udpSize, this.o.maxUdpPayload, ctx.maxUdpSize)
          : 512;
    const parts: ResponseParts = {
      query: q,
      flags: FLAG.AA | (this.o.recurseOn ? FLAG.RA : 0),
      rcode,
      answer,
      authority,
      additional,
      opt: useOpt ? optRecord(this.o.maxUdpPayload) : undefined,
    };
    // §3.7: drop ADDITIONAL; then, if still not "size < limit", the fewest answers from the end.
    return writeLimited(parts, limit, 'mesos', this.o.setTruncateBit);
  }
}
