// Forwarding of names we are not authoritative for: a bounded positive+negative answer cache and
// the two forwarding policies over checked upstream exchanges (upstream.ts: fresh random IDs,
// connected sockets on random ports, replies matched on source, ID and question):
//   * Mesos-DNS (specs/mesos-dns.md §3.9): servers tried one after the other over the client's
//     transport, each with its own timeout; REFUSED when external forwarding is off or nothing is
//     configured; SERVFAIL when every server failed; §3.7 truncation on the relayed reply.
//   * dcos-dns (specs/dcos-net.md §1.3): at most two upstreams, chosen by fewest cumulative
//     failures, queried in parallel; the first reply wins; SERVFAIL after
//     the timeout. Deliberate difference: our SERVFAIL has QR set (the original echoed the request
//     with only the rcode changed, which dig reports as "query response not set").
// Both refuse clients outside the allow-list: dcnet is never an open resolver.
import { AllowList } from './access.js';
import type { InFlightLimit } from './limits.js';
import { DnsMetrics, dnsMetrics } from './metrics.js';
import { upstreamKey, type DnsHandler, type HandlerContext, type Upstream } from './types.js';
import { ExchangeError, UpstreamPool, type UpstreamPoolOptions } from './upstream.js';
import { FLAG, RCODE, readName, replyFor, truncateMessage, walkMessage, type DnsQuery } from './wire.js';

// ---- cache --------------------------------------------------------------------------------

export interface ForwardCacheOptions {
  /** Entries kept at most (least recently used evicted). Default 10,000. */
  readonly maxEntries?: number;
  /** Longest time any positive answer is kept, seconds. Default 3600. */
  readonly maxTtl?: number;
  /** Longest time a negative answer (NXDOMAIN/NODATA) is kept, seconds. Default 300. */
  readonly maxNegativeTtl?: number;
  readonly now?: () => number;
}

interface CacheEntry {
  readonly reply: Buffer;
  readonly ttlAt: number[];
  readonly ttls: number[];
  readonly storedAt: number;
  readonly expiresAt: number;
}

/**
 * Forwarded answers by (name, type, class, DO, CD). Positive answers live for the smallest TTL of
 * the answer section, negative ones (RFC 2308) for min(SOA TTL, SOA MINIMUM) of the authority SOA
 * (not cached without one). Truncated replies and other rcodes are never cached. A hit is a copy
 * with the client's ID, RD bit and question case, and TTLs lowered by the time spent in the cache.
 */
export class ForwardCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly maxEntries: number;
  private readonly maxTtl: number;
  private readonly maxNegativeTtl: number;
  private readonly now: () => number;
  readonly stats = { hits: 0, misses: 0, stored: 0 };

  constructor(opts: ForwardCacheOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.maxTtl = opts.maxTtl ?? 3600;
    this.maxNegativeTtl = opts.maxNegativeTtl ?? 300;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  private key(q: DnsQuery): string {
    const bits = (q.edns?.dnssecOk ? 1 : 0) | (q.flags & FLAG.CD ? 2 : 0);
    return `${q.lname}|${q.qtype}|${q.qclass}|${bits}`;
  }

  get(q: DnsQuery, maxSize: number): Buffer | undefined {
    const k = this.key(q);
    const e = this.entries.get(k);
    const now = this.now();
    if (!e || now >= e.expiresAt || e.reply.length > maxSize) {
      if (e && now >= e.expiresAt) this.entries.delete(k);
      this.stats.misses++;
      return undefined;
    }
    this.entries.delete(k);
    this.entries.set(k, e);
    this.stats.hits++;
    const out = Buffer.from(e.reply);
    out.writeUInt16BE(q.id, 0);
    out.writeUInt16BE((out.readUInt16BE(2) & ~FLAG.RD) | (q.flags & FLAG.RD), 2);
    if (
      out.length >= 12 + q.question.length &&
      out.subarray(12, 12 + q.question.length).equals(e.reply.subarray(12, 12 + q.question.length))
    ) {
      q.question.copy(out, 12);
    }
    const elapsed = Math.floor((now - e.storedAt) / 1000);
    for (let i = 0; i < e.ttlAt.length; i++)
      out.writeUInt32BE(Math.max(0, e.ttls[i]! - elapsed), e.ttlAt[i]!);
    return out;
  }

  put(q: DnsQuery, reply: Buffer): void {
    const shape = walkMessage(reply);
    if (!shape || shape.flags & FLAG.TC || !(shape.flags & FLAG.QR)) return;
    if (shape.rcode !== RCODE.NOERROR && shape.rcode !== RCODE.NXDOMAIN) return;
    // The reply must be for this question (the exchange checked it already; belt and braces).
    try {
      const n = readName(reply, 12);
      if (shape.counts[0] < 1 || n.name.toLowerCase() !== q.lname) return;
      if (reply.readUInt16BE(n.end) !== q.qtype || reply.readUInt16BE(n.end + 2) !== q.qclass) return;
    } catch {
      return;
    }
    let ttl: number;
    const answers = shape.ttls.filter((t) => t.section === 1);
    if (shape.rcode === RCODE.NOERROR && answers.length > 0) {
      ttl = Math.min(this.maxTtl, ...answers.map((t) => reply.readUInt32BE(t.at)));
    } else {
      const soa = shape.soa[0];
      if (!soa) return;
      ttl = Math.min(this.maxNegativeTtl, soa.ttl, soa.minimum);
    }
    if (!(ttl > 0)) return;
    const now = this.now();
    const copy = Buffer.from(reply);
    this.entries.delete(this.key(q));
    this.entries.set(this.key(q), {
      reply: copy,
      ttlAt: shape.ttls.map((t) => t.at),
      ttls: shape.ttls.map((t) => copy.readUInt32BE(t.at)),
      storedAt: now,
      expiresAt: now + ttl * 1000,
    });
    this.stats.stored++;
    while (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value!);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

// ---- policies -----------------------------------------------------------------------------

interface CommonOptions {
  /** Clients whose names may be forwarded; others get REFUSED. Default: DEFAULT_FORWARD_ALLOW. */
  readonly allow?: AllowList;
  readonly cache?: ForwardCache;
  /** Default: the counters of the server the forwarder is mounted in. */
  readonly metrics?: DnsMetrics;
  /** Metric zone label for failures (default: the context's zone). */
  readonly zone?: string;
  /** Sockets per upstream and their rotation (see upstream.ts). */
  readonly sockets?: Omit<UpstreamPoolOptions, 'onReject'>;
  /**
   * Slots for this forwarder's queries in flight; default the server's (`maxConcurrent`). Over
   * it a query is dropped (UDP) or its connection closed (TCP), as dcos-dns `handler_limit`.
   */
  readonly limit?: InFlightLimit;
}

export interface MesosForwarderOptions extends CommonOptions {
  readonly servers: readonly Upstream[];
  /** Per attempt, milliseconds (Mesos-DNS `Timeout` seconds × 1000; default 5000). */
  readonly timeoutMs?: number;
  readonly externalOn?: boolean;
  readonly setTruncateBit?: boolean;
}

const fallbackMetrics = dnsMetrics();

/** The forwarder's own counters, else the server's (from the context), else a private set. */
export function metricsFor(
  opts: { readonly metrics?: DnsMetrics | undefined },
  ctx: HandlerContext,
): DnsMetrics {
  return opts.metrics ?? ctx.metrics ?? fallbackMetrics;
}

/**
 * What every forwarder shares: its upstream sockets, whose rejected replies are counted in the
 * counters of the last query (the forwarder's own, or those of the server it is mounted in).
 */
function forwarderState(opts: CommonOptions): {
  pool: UpstreamPool;
  metrics(ctx: HandlerContext): DnsMetrics;
} {
  let last: DnsMetrics = opts.metrics ?? fallbackMetrics;
  const pool = new UpstreamPool({ ...opts.sockets, onReject: (reason) => last.forwardReject(reason) });
  return {
    pool,
    metrics(ctx) {
      return (last = metricsFor(opts, ctx));
    },
  };
}

/**
 * Runs `forward` in one of the limit's slots; over the limit: dropped (undefined) and counted by
 * the server (which also closes a TCP connection).
 */
function inSlot(
  opts: CommonOptions,
  ctx: HandlerContext,
  metrics: DnsMetrics,
  forward: () => Promise<Buffer | undefined>,
): Promise<Buffer | undefined> | undefined {
  const limit = opts.limit ?? ctx.forwardLimit;
  if (!limit) return forward();
  if (!limit.tryTake()) {
    if (ctx.overload) ctx.overload();
    else metrics.drop('overload');
    return undefined;
  }
  return forward().finally(() => limit.release());
}

/** REFUSED for clients outside the allow-list, else a cache hit, else undefined (go ahead). */
function refusedOrCached(
  q: DnsQuery,
  ctx: HandlerContext,
  allow: AllowList,
  cache: ForwardCache | undefined,
): Buffer | undefined {
  if (!allow.allows(ctx.remoteAddress)) return replyFor(q, RCODE.REFUSED);
  return cache?.get(q, ctx.maxUdpSize);
}

export function createMesosForwarder(opts: MesosForwarderOptions): DnsHandler {
  const allow = opts.allow ?? new AllowList();
  const timeoutMs = opts.timeoutMs && opts.timeoutMs > 0 ? opts.timeoutMs : 5000;
  const externalOn = opts.externalOn ?? true;
  const setTc = opts.setTruncateBit ?? true;
  const state = forwarderState(opts);
  const forward = async (bytes: Buffer, q: DnsQuery, ctx: HandlerContext, metrics: DnsMetrics) => {
    for (const s of opts.servers) {
      try {
        let reply = await state.pool.exchange(ctx.transport, bytes, q.question, s, timeoutMs);
        opts.cache?.put(q, reply);
        if (ctx.transport === 'udp' && reply.length > ctx.maxUdpSize) {
          reply = truncateMessage(reply, ctx.maxUdpSize, setTc);
        }
        if (!setTc && reply.readUInt16BE(2) & FLAG.TC) {
          reply = Buffer.from(reply);
          reply.writeUInt16BE(reply.readUInt16BE(2) & ~FLAG.TC, 2);
        }
        return reply;
      } catch (e) {
        metrics.upstreamFailure(
          upstreamKey(s),
          ctx.transport,
          e instanceof ExchangeError ? e.reason : 'error',
        );
      }
    }
    metrics.forwardFailure(opts.zone ?? ctx.zone);
    return replyFor(q, RCODE.SERVFAIL);
  };
  // Refusals and cache hits are answered synchronously; only a real exchange is asynchronous.
  return (bytes, q, ctx) => {
    const metrics = state.metrics(ctx);
    if (!externalOn || opts.servers.length === 0) return replyFor(q, RCODE.REFUSED);
    const early = refusedOrCached(q, ctx, allow, opts.cache);
    if (early) return early;
    return inSlot(opts, ctx, metrics, () => forward(bytes, q, ctx, metrics));
  };
}

export interface DcosForwarderOptions extends CommonOptions {
  /** Upstreams, or a function giving the current list (e.g. the masters' Mesos-DNS). */
  readonly upstreams: readonly Upstream[] | (() => readonly Upstream[]);
  /** Per worker, milliseconds (default 5000). */
  readonly timeoutMs?: number;
  readonly random?: () => number;
}

/** dcos-dns `take_upstreams`: all when fewer than 3; else two from the least-failed buckets. */
export function takeUpstreams(
  upstreams: readonly Upstream[],
  failures: (u: Upstream) => number,
  random: () => number = Math.random,
): Upstream[] {
  if (upstreams.length < 3) return [...upstreams];
  const buckets = new Map<number, Upstream[]>();
  for (const u of upstreams) {
    const f = failures(u);
    const b = buckets.get(f);
    if (b) b.push(u);
    else buckets.set(f, [u]);
  }
  const levels = [...buckets.keys()].sort((a, b) => a - b);
  const pick = (xs: Upstream[]): Upstream => xs.splice(Math.floor(random() * xs.length), 1)[0]!;
  const lowest = [...buckets.get(levels[0]!)!];
  if (lowest.length >= 2) return [pick(lowest), pick(lowest)];
  return [lowest[0]!, pick([...buckets.get(levels[1]!)!])];
}

export function createDcosForwarder(opts: DcosForwarderOptions): DnsHandler {
  const allow = opts.allow ?? new AllowList();
  const timeoutMs = opts.timeoutMs ?? 5000;
  const list =
    typeof opts.upstreams === 'function' ? opts.upstreams : () => opts.upstreams as readonly Upstream[];
  const state = forwarderState(opts);
  const forward = async (
    bytes: Buffer,
    q: DnsQuery,
    ctx: HandlerContext,
    metrics: DnsMetrics,
    ups: readonly Upstream[],
  ) => {
    try {
      const reply = await Promise.any(
        ups.map((u) =>
          state.pool.exchange(ctx.transport, bytes, q.question, u, timeoutMs).catch((e: unknown) => {
            metrics.upstreamFailure(
              upstreamKey(u),
              ctx.transport,
              e instanceof ExchangeError ? e.reason : 'error',
            );
            throw e;
          }),
        ),
      );
      opts.cache?.put(q, reply);
      return ctx.transport === 'udp' && reply.length > ctx.maxUdpSize
        ? truncateMessage(reply, ctx.maxUdpSize)
        : reply;
    } catch {
      metrics.forwardFailure(opts.zone ?? ctx.zone);
      return replyFor(q, RCODE.SERVFAIL);
    }
  };
  return (bytes, q, ctx) => {
    const metrics = state.metrics(ctx);
    const early = refusedOrCached(q, ctx, allow, opts.cache);
    if (early) return early;
    const ups = takeUpstreams(list(), (u) => metrics.upstreamFailuresOf(upstreamKey(u)), opts.random);
    if (ups.length === 0) {
      metrics.forwardFailure(opts.zone ?? ctx.zone);
      return replyFor(q, RCODE.SERVFAIL);
    }
    return inSlot(opts, ctx, metrics, () => forward(bytes, q, ctx, metrics, ups));
  };
}
