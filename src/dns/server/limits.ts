// What keeps one busy client or one dead upstream from taking the node's DNS down.
//
//   * InFlightLimit: slots for forwarded queries only. Answers the node has itself (local zones,
//     the Mesos responder, cache hits, refusals) never wait for a slot, so `ready.spartan` and
//     `*.thisdcos.directory` answer at once even when dead upstreams hold every slot.
//   * ClientRateLimit: a token bucket per client address (as dnsdist MaxQPSIPRule), for every
//     query, local names included: the node's CPU is what it protects. The table of clients is
//     bounded; see the class.
import { AllowList } from './access.js';

/** A counter of slots: `tryTake()` before the work, `release()` after it. */
export class InFlightLimit {
  private used = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new Error(`in-flight limit: must be a positive integer (got ${max})`);
    }
  }

  get inUse(): number {
    return this.used;
  }

  tryTake(): boolean {
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }

  release(): void {
    if (this.used > 0) this.used--;
  }
}

export interface ClientRateLimitOptions {
  /** Queries per second one client address may send, on average. */
  readonly qps: number;
  /** Queries a client may send at once after a quiet spell (default: `qps`, one second's worth). */
  readonly burst?: number;
  /** Client addresses tracked at most (default 10,000). */
  readonly maxClients?: number;
  /** Addresses or CIDRs never limited (default none: loopback is limited like any client). */
  readonly exempt?: readonly string[];
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets by client address. The table holds at most `maxClients` buckets; to make room the
 * oldest entry goes, unless that client is being limited right now (its bucket is empty: then it
 * moves to the back, a few times per insertion at most), so that a flood of new (e.g. spoofed)
 * addresses cannot reset the bucket of a client being limited. Forgetting any other bucket costs
 * at most one extra burst. IPv6 clients are limited per address.
 */
export class ClientRateLimit {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly burst: number;
  private readonly maxClients: number;
  private readonly exempt: AllowList | undefined;
  private readonly now: () => number;
  /** Queries refused so far. */
  limited = 0;

  constructor(opts: ClientRateLimitOptions) {
    const { qps } = opts;
    if (!(qps > 0) || !Number.isFinite(qps)) throw new Error(`rate limit qps: must be > 0 (got ${qps})`);
    const burst = opts.burst ?? qps;
    if (!(burst >= 1) || !Number.isFinite(burst)) {
      throw new Error(`rate limit burst: must be ≥ 1 (got ${burst})`);
    }
    const maxClients = opts.maxClients ?? 10_000;
    if (!Number.isInteger(maxClients) || maxClients < 1) {
      throw new Error(`rate limit maxClients: must be a positive integer (got ${maxClients})`);
    }
    this.perMs = qps / 1000;
    this.burst = burst;
    this.maxClients = maxClients;
    this.exempt = opts.exempt?.length ? new AllowList(opts.exempt, 'rate limit exempt') : undefined;
    this.now = opts.now ?? Date.now;
  }

  /** Clients with a bucket. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token of `address`'s bucket; false when it is empty (the query is refused). */
  allow(address: string): boolean {
    if (this.exempt?.allows(address)) return true;
    const now = this.now();
    let b = this.buckets.get(address);
    if (b === undefined) {
      if (this.buckets.size >= this.maxClients) this.makeRoom(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(address, b);
    } else {
      const t = b.tokens + (now - b.at) * this.perMs;
      b.tokens = t > this.burst ? this.burst : t;
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    this.limited++;
    return false;
  }

  private makeRoom(now: number): void {
    for (let spared = 0; this.buckets.size >= this.maxClients;) {
      const [key, b] = this.buckets.entries().next().value!;
      this.buckets.delete(key);
      const limited = b.tokens + (now - b.at) * this.perMs < 1;
      if (limited && spared++ < 8) this.buckets.set(key, b);
    }
  }
}
