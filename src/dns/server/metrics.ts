// Prometheus counters of the DNS engine. The hot path only bumps plain numbers in a Map; the
// prom-client counters pull them on scrape (collect), so a query costs no label hashing.
import { Counter, Registry } from 'prom-client';

type Key = string;

type Labels = Record<string, string>;

class Tally {
  private readonly counts = new Map<Key, { labels: Labels; n: number; total: number; d: number }>();
  add(key: Key, labels: () => Labels, n = 1): void {
    const c = this.counts.get(key);
    if (c) {
      c.n += n;
      c.total += n;
      c.d += n;
    } else this.counts.set(key, { labels: labels(), n, total: n, d: n });
  }
  /** Counts added since the last drain (a cluster worker sends them to the primary). */
  drain(): [Labels, number][] {
    const out: [Labels, number][] = [];
    for (const c of this.counts.values()) {
      if (c.d > 0) out.push([c.labels, c.d]);
      c.d = 0;
    }
    return out;
  }
  flush(counter: Counter): void {
    for (const c of this.counts.values()) {
      if (c.n > 0) counter.inc(c.labels, c.n);
      c.n = 0;
    }
  }
  get(key: Key): number {
    return this.counts.get(key)?.total ?? 0;
  }
}

export interface MetricsDelta {
  readonly requests: [Labels, number][];
  readonly drops: [Labels, number][];
  readonly forwardFailures: [Labels, number][];
  readonly upstreamFailures: [Labels, number][];
  readonly forwardRejected: [Labels, number][];
  readonly malformed: number;
}

export class DnsMetrics {
  private readonly requests = new Tally();
  private readonly drops = new Tally();
  private readonly forwardFailures = new Tally();
  private readonly upstreamFailures = new Tally();
  private readonly forwardRejected = new Tally();
  /** Lifetime totals, readable without a scrape (tests, the dcos-dns upstream choice). */
  readonly totals = { requests: 0, drops: 0, malformed: 0, forwardFailures: 0, forwardRejected: 0 };
  private readonly upstreamTotals = new Map<string, number>();

  constructor(readonly registry: Registry) {
    const { requests, drops, forwardFailures, upstreamFailures, forwardRejected } = this;
    new Counter({
      name: 'dcnet_dns_requests_total',
      help: 'DNS queries answered, by zone and response code',
      labelNames: ['zone', 'rcode'],
      registers: [registry],
      collect() {
        requests.flush(this);
      },
    });
    new Counter({
      name: 'dcnet_dns_dropped_total',
      help: 'DNS queries or connections dropped, by reason (malformed, overload, tcp_overload, tcp_client_overload, tcp_backlog, tcp_deadline, ratelimit)',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        drops.flush(this);
      },
    });
    new Counter({
      name: 'dcnet_dns_forwarder_failures_total',
      help: 'Forwarded queries that got no upstream answer (SERVFAIL sent), by zone',
      labelNames: ['zone'],
      registers: [registry],
      collect() {
        forwardFailures.flush(this);
      },
    });
    new Counter({
      name: 'dcnet_dns_upstream_failures_total',
      help: 'Failed attempts against one upstream resolver, by protocol and reason',
      labelNames: ['upstream', 'protocol', 'reason'],
      registers: [registry],
      collect() {
        upstreamFailures.flush(this);
      },
    });
    new Counter({
      name: 'dcnet_dns_forward_rejected_total',
      help: 'Upstream replies dropped by the forwarder, by reason (source, malformed, id, late, question)',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        forwardRejected.flush(this);
      },
    });
  }

  private drainedMalformed = 0;

  /** What changed since the last call (for a cluster worker to report to its primary). */
  drain(): MetricsDelta {
    const malformed = this.totals.malformed - this.drainedMalformed;
    this.drainedMalformed = this.totals.malformed;
    return {
      requests: this.requests.drain(),
      drops: this.drops.drain(),
      forwardFailures: this.forwardFailures.drain(),
      upstreamFailures: this.upstreamFailures.drain(),
      forwardRejected: this.forwardRejected.drain(),
      malformed,
    };
  }

  /** Adds a worker's delta to these counters. */
  absorb(d: MetricsDelta): void {
    for (const [l, n] of d.requests) {
      this.totals.requests += n;
      this.requests.add(`${l.zone}\0${l.rcode}`, () => l, n);
    }
    for (const [l, n] of d.drops) {
      this.totals.drops += n;
      this.drops.add(l.reason!, () => l, n);
    }
    for (const [l, n] of d.forwardFailures) {
      this.totals.forwardFailures += n;
      this.forwardFailures.add(l.zone!, () => l, n);
    }
    for (const [l, n] of d.upstreamFailures) {
      this.upstreamTotals.set(l.upstream!, (this.upstreamTotals.get(l.upstream!) ?? 0) + n);
      this.upstreamFailures.add(`${l.upstream}\0${l.protocol}\0${l.reason}`, () => l, n);
    }
    for (const [l, n] of d.forwardRejected) {
      this.totals.forwardRejected += n;
      this.forwardRejected.add(l.reason!, () => l, n);
    }
    this.totals.malformed += d.malformed;
  }

  request(zone: string, rcode: string): void {
    this.totals.requests++;
    this.requests.add(`${zone}\0${rcode}`, () => ({ zone, rcode }));
  }

  drop(reason: string): void {
    this.totals.drops++;
    if (reason === 'malformed') this.totals.malformed++;
    this.drops.add(reason, () => ({ reason }));
  }

  /** A query with a readable header but unreadable rest (answered FORMERR). */
  malformed(): void {
    this.totals.malformed++;
  }

  forwardFailure(zone: string): void {
    this.totals.forwardFailures++;
    this.forwardFailures.add(zone, () => ({ zone }));
  }

  upstreamFailure(upstream: string, protocol: string, reason: string): void {
    this.upstreamTotals.set(upstream, (this.upstreamTotals.get(upstream) ?? 0) + 1);
    this.upstreamFailures.add(`${upstream}\0${protocol}\0${reason}`, () => ({ upstream, protocol, reason }));
  }

  /** An upstream reply that failed the source/ID/question check (dropped, never cached). */
  forwardReject(reason: string): void {
    this.totals.forwardRejected++;
    this.forwardRejected.add(reason, () => ({ reason }));
  }

  forwardRejectedOf(reason: string): number {
    return this.forwardRejected.get(reason);
  }

  dropsOf(reason: string): number {
    return this.drops.get(reason);
  }

  /** Cumulative failures of one upstream since start (all protocols and reasons). */
  upstreamFailuresOf(upstream: string): number {
    return this.upstreamTotals.get(upstream) ?? 0;
  }

  requestsOf(zone: string, rcode: string): number {
    return this.requests.get(`${zone}\0${rcode}`);
  }
}

const byRegistry = new WeakMap<Registry, DnsMetrics>();

/** The DNS metrics registered on `registry` (created once per registry). */
export function dnsMetrics(registry: Registry = new Registry()): DnsMetrics {
  let m = byRegistry.get(registry);
  if (!m) byRegistry.set(registry, (m = new DnsMetrics(registry)));
  return m;
}
