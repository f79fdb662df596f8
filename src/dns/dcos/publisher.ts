// The leading master's side of zone dissemination: each zone is written whole, at most once per
// `minIntervalMs` (later updates inside the window are coalesced into one write), and not at all
// when its records did not change. Writes carry the leader's fence, so a deposed leader cannot
// overwrite its successor's zones.
import type { Logger } from 'pino';
import type { Compare, Store } from '../../store/index.js';
import { serializeZone, zoneFingerprint, zoneKey } from './store-format.js';
import type { ZoneRecords } from './zones.js';

export interface ZonePublisherOptions {
  readonly store: Store;
  readonly log: Logger;
  /** Compares that hold only while we lead (LeaderElection.fence()); none for a single master. */
  readonly fence?: () => readonly Compare[];
  readonly minIntervalMs?: number;
}

interface Slot {
  pending?: ZoneRecords;
  written?: string;
  lastWrite: number;
  timer?: NodeJS.Timeout;
  flushing?: Promise<void>;
}

export class ZonePublisher {
  private readonly slots = new Map<string, Slot>();
  private closed = false;
  /** Writes done and pushes skipped as unchanged, for metrics and tests. */
  readonly counts = { writes: 0, unchanged: 0, failed: 0 };

  constructor(private readonly o: ZonePublisherOptions) {}

  publish(origin: string, zone: ZoneRecords): void {
    if (this.closed) return;
    let slot = this.slots.get(origin);
    if (!slot) this.slots.set(origin, (slot = { lastWrite: 0 }));
    slot.pending = zone;
    if (slot.timer || slot.flushing) return;
    const wait = Math.max(0, slot.lastWrite + (this.o.minIntervalMs ?? 1000) - Date.now());
    slot.timer = setTimeout(() => void this.flush(origin, slot), wait);
  }

  /** Writes every pending zone now (tests, shutdown). */
  async flushAll(): Promise<void> {
    for (const [origin, slot] of this.slots) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
      await slot.flushing;
      await this.flush(origin, slot);
    }
  }

  close(): void {
    this.closed = true;
    for (const slot of this.slots.values()) clearTimeout(slot.timer);
  }

  /** Forget what was written (a new leadership term must write at least once). */
  reset(): void {
    for (const slot of this.slots.values()) slot.written = undefined;
  }

  private async flush(origin: string, slot: Slot): Promise<void> {
    slot.timer = undefined;
    const zone = slot.pending;
    if (!zone || this.closed) return;
    slot.pending = undefined;
    const fp = zoneFingerprint(zone);
    if (fp === slot.written) {
      this.counts.unchanged++;
      return;
    }
    const run = (async () => {
      try {
        const r = await this.o.store.txn({
          compare: this.o.fence?.() ?? [],
          success: [{ type: 'put', key: zoneKey(origin), value: serializeZone(origin, zone, Date.now()) }],
        });
        if (!r.succeeded) {
          this.o.log.warn({ zone: origin }, 'zone not published: no longer the leader');
          return;
        }
        slot.written = fp;
        slot.lastWrite = Date.now();
        this.counts.writes++;
        this.o.log.debug({ zone: origin, names: countNames(zone) }, 'zone published');
      } catch (err) {
        this.counts.failed++;
        // Keep it pending so the next publish (or the retry below) writes it.
        slot.pending ??= zone;
        this.o.log.warn(
          { zone: origin, err: err instanceof Error ? err.message : String(err) },
          'zone publish failed',
        );
        if (!this.closed && !slot.timer) slot.timer = setTimeout(() => void this.flush(origin, slot), 2000);
      }
    })();
    slot.flushing = run;
    await run;
    slot.flushing = undefined;
    if (slot.pending && !slot.timer && !this.closed) this.publish(origin, slot.pending);
  }
}

const countNames = (z: ZoneRecords): number => z.a.size + z.aaaa.size + z.srv.size + z.cname.size;
