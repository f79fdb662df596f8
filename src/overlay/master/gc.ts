// Allocation GC: an agent whose published node entry (overlay/nodes/<ip>, under the agent's
// lease) has been gone longer than `dcnet_overlay_allocation_gc` gets its subnets and VTEP
// addresses returned to the pools; until then a returning agent keeps them. "Gone since" is kept
// in the store (overlay/agent-gone/<ip>), so a master restart or a new leader does not reset it.
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Compare, Op, Store, TxnResult, Watch, WatchEvent } from '../../store/index.js';
import { AGENT_GONE_PREFIX, agentGoneKey, NODES_PREFIX } from '../types.js';

const goneValue = z.object({ since: z.number().int().nonnegative() }).strict();

export interface GoneMark {
  readonly since: number;
  readonly modRevision: number;
}

/** What the GC needs of the master. */
export interface GcTarget {
  /** IPs that hold an allocation. */
  allocated(): readonly string[];
  /** A fenced write (HA: only while leading). */
  write(ops: Op[], compare?: Compare[]): Promise<TxnResult>;
  /** Frees `ip`'s allocation if it is still gone as marked; true if it was freed. */
  collect(ip: string, mark: GoneMark): Promise<boolean>;
}

export interface AllocationGcOptions {
  readonly store: Store;
  readonly log: Logger;
  readonly target: GcTarget;
  /** Seconds gone before freeing; 0 never frees. */
  readonly gcSeconds: number;
  readonly now?: () => number;
}

export class AllocationGc {
  private readonly alive = new Set<string>();
  private readonly gone = new Map<string, GoneMark>();
  private watch: Watch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private sweeping = false;
  private readonly now: () => number;

  constructor(private readonly o: AllocationGcOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Reads who is alive and who is gone since when, then follows node entries. */
  async start(): Promise<void> {
    if (this.o.gcSeconds === 0) return;
    await this.sync();
    // Sweep often enough that an allocation is freed within ~10 % of its GC time, at most a minute.
    const every = Math.min(60_000, Math.max(100, (this.o.gcSeconds * 1000) / 10));
    this.timer = setInterval(() => void this.sweep(), every);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.watch?.close();
  }

  /** The marks now (status, tests). */
  marks(): ReadonlyMap<string, GoneMark> {
    return this.gone;
  }

  private async sync(): Promise<void> {
    const [nodes, marks] = await Promise.all([
      this.o.store.range(NODES_PREFIX),
      this.o.store.range(AGENT_GONE_PREFIX),
    ]);
    this.alive.clear();
    this.gone.clear();
    for (const kv of nodes.kvs) this.alive.add(kv.key.slice(NODES_PREFIX.length));
    for (const kv of marks.kvs) {
      const ip = kv.key.slice(AGENT_GONE_PREFIX.length);
      let since: number | undefined;
      try {
        const r = goneValue.safeParse(JSON.parse(kv.value));
        if (r.success) since = r.data.since;
      } catch {
        // handled below
      }
      if (since === undefined) {
        this.o.log.warn({ key: kv.key }, 'unreadable allocation-GC mark; counting from now');
        await this.markGone(ip);
        continue;
      }
      this.gone.set(ip, { since, modRevision: kv.modRevision });
    }
    for (const ip of this.o.target.allocated()) {
      if (this.alive.has(ip)) await this.markAlive(ip);
      else if (!this.gone.has(ip)) await this.markGone(ip);
    }
    const from = Math.max(nodes.revision, marks.revision) + 1;
    this.watch = this.o.store.watch({
      prefix: NODES_PREFIX,
      fromRevision: from,
      onEvents: (events) => void this.onEvents(events),
      onError: (err) => {
        if (this.stopped) return;
        this.o.log.warn({ err: err.message }, 'allocation GC: node watch ended; re-reading');
        setTimeout(() => void this.sync().catch((e: unknown) => this.retryLater(e)), 1000).unref();
      },
    });
  }

  private retryLater(err: unknown): void {
    if (this.stopped) return;
    this.o.log.warn({ err: (err as Error).message }, 'allocation GC: cannot read the store; retrying');
    setTimeout(() => void this.sync().catch((e: unknown) => this.retryLater(e)), 5000).unref();
  }

  private async onEvents(events: readonly WatchEvent[]): Promise<void> {
    const allocated = new Set(this.o.target.allocated());
    for (const e of events) {
      const ip = e.kv.key.slice(NODES_PREFIX.length);
      try {
        if (e.type === 'put') {
          this.alive.add(ip);
          await this.markAlive(ip);
        } else {
          this.alive.delete(ip);
          if (allocated.has(ip) && !this.gone.has(ip)) await this.markGone(ip);
        }
      } catch (err) {
        // Not leading any more, or the store is away: the next leader or sync re-derives it.
        this.o.log.warn({ agent: ip, err: (err as Error).message }, 'allocation GC: cannot record presence');
      }
    }
  }

  private async markGone(ip: string): Promise<void> {
    const since = this.now();
    const res = await this.o.target.write([
      { type: 'put', key: agentGoneKey(ip), value: JSON.stringify({ since }) },
    ]);
    if (res.succeeded) this.gone.set(ip, { since, modRevision: res.revision });
  }

  private async markAlive(ip: string): Promise<void> {
    if (!this.gone.has(ip)) return;
    await this.o.target.write([{ type: 'delete', key: agentGoneKey(ip) }]);
    this.gone.delete(ip);
  }

  /** Frees every allocation gone for longer than the GC time. */
  async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      // An agent that registered and never published (crashed at once) has no entry to lose:
      // its clock starts at the first sweep that finds it neither alive nor marked.
      for (const ip of this.o.target.allocated()) {
        if (this.alive.has(ip) || this.gone.has(ip)) continue;
        await this.markGone(ip).catch((err: unknown) =>
          this.o.log.warn(
            { agent: ip, err: (err as Error).message },
            'allocation GC: cannot record presence',
          ),
        );
      }
      const deadline = this.now() - this.o.gcSeconds * 1000;
      for (const [ip, mark] of [...this.gone]) {
        if (mark.since > deadline || this.alive.has(ip)) continue;
        try {
          const freed = await this.o.target.collect(ip, mark);
          // Not freed but still allocated: it came back (its node entry clears the mark).
          if ((freed || !this.o.target.allocated().includes(ip)) && this.gone.get(ip) === mark)
            this.gone.delete(ip);
          if (freed)
            this.o.log.info(
              { agent: ip, goneSeconds: Math.round((this.now() - mark.since) / 1000) },
              'departed agent: allocation returned to the pools (dcnet_overlay_allocation_gc)',
            );
        } catch (err) {
          this.o.log.warn({ agent: ip, err: (err as Error).message }, 'allocation GC: cannot free');
        }
      }
    } finally {
      this.sweeping = false;
    }
  }
}
