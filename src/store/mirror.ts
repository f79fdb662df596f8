// Keeps a local copy of every key under a prefix: a range read, then a watch from the next
// revision; when the watch ends (history compacted, store restarted) it reloads and carries on.
// The copy survives store outages: readers keep the last known values.
import type { Logger } from 'pino';
import type { KeyValue, Store, Watch, WatchEvent } from './types.js';

export interface PrefixMirrorOptions {
  readonly store: Store;
  readonly prefix: string;
  readonly log: Logger;
  /** Called after a full (re)load and after every batch of watch events, with the whole copy. */
  readonly onChange: (entries: ReadonlyMap<string, string>, changed: ReadonlySet<string> | 'all') => void;
  /** Delay between attempts while the store is unreachable. */
  readonly retryMs?: number;
}

export class PrefixMirror {
  private readonly entries = new Map<string, string>();
  private watch: Watch | undefined;
  private stopped = false;
  private loaded = false;
  private wake: (() => void) | undefined;

  constructor(private readonly o: PrefixMirrorOptions) {}

  /** Starts loading; resolves after the first successful load (or when stopped). */
  start(): Promise<void> {
    return this.begin();
  }

  get ready(): boolean {
    return this.loaded;
  }

  current(): ReadonlyMap<string, string> {
    return this.entries;
  }

  stop(): void {
    this.stopped = true;
    this.watch?.close();
    this.wake?.();
  }

  private async begin(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const { kvs, revision } = await this.o.store.range(this.o.prefix);
        if (this.stopped) return;
        this.reset(kvs);
        this.watch = this.o.store.watch({
          prefix: this.o.prefix,
          fromRevision: revision + 1,
          onEvents: (events) => this.apply(events),
          onError: (err) => {
            if (this.stopped) return;
            this.o.log.warn({ prefix: this.o.prefix, err: err.message }, 'watch ended; reloading');
            void this.begin();
          },
        });
        return;
      } catch (err) {
        if (attempt === 0 || attempt % 30 === 0) {
          this.o.log.warn(
            { prefix: this.o.prefix, err: err instanceof Error ? err.message : String(err) },
            'store unreachable; keeping the last known values',
          );
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, this.o.retryMs ?? 1000);
        });
      }
    }
  }

  private reset(kvs: readonly KeyValue[]): void {
    this.entries.clear();
    for (const kv of kvs) this.entries.set(kv.key, kv.value);
    this.loaded = true;
    this.notify('all');
  }

  private apply(events: readonly WatchEvent[]): void {
    const changed = new Set<string>();
    for (const ev of events) {
      if (ev.type === 'delete') this.entries.delete(ev.kv.key);
      else this.entries.set(ev.kv.key, ev.kv.value);
      changed.add(ev.kv.key);
    }
    this.notify(changed);
  }

  private notify(changed: ReadonlySet<string> | 'all'): void {
    try {
      this.o.onChange(this.entries, changed);
    } catch (err) {
      this.o.log.error({ prefix: this.o.prefix, err }, 'mirror listener failed');
    }
  }
}
