// Delivers committed events to prefix watchers and keeps a bounded history so that a watcher can
// resume from an earlier revision; older than the history is `compacted` (resync with a range).
import { StoreError, type Watch, type WatchEvent, type WatchOptions } from './types.js';

interface Watcher {
  readonly options: WatchOptions;
  closed: boolean;
}

interface Entry {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
}

export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  private readonly history: Entry[] = [];
  /** Revisions up to this one are no longer in the history. */
  private compacted: number;
  private published: number;

  constructor(
    revision: number,
    private readonly historyLimit = 10_000,
  ) {
    this.compacted = revision;
    this.published = revision;
  }

  get revision(): number {
    return this.published;
  }

  /** Called in revision order, once the events are durable. */
  publish(revision: number, events: readonly WatchEvent[]): void {
    this.published = revision;
    if (events.length === 0) return;
    this.history.push({ revision, events });
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.compacted = dropped[dropped.length - 1]!.revision;
    }
    for (const w of this.watchers) this.deliver(w, revision, events);
  }

  private deliver(w: Watcher, revision: number, events: readonly WatchEvent[]): void {
    if (w.closed) return;
    const mine = events.filter((e) => e.kv.key.startsWith(w.options.prefix));
    if (mine.length === 0) return;
    try {
      w.options.onEvents(mine, revision);
    } catch {
      // A failing watcher must not stop delivery to the others; it sees its own errors.
    }
  }

  watch(options: WatchOptions): Watch {
    const w: Watcher = { options, closed: false };
    const from = options.fromRevision ?? this.published + 1;
    if (from <= this.compacted) {
      queueMicrotask(() =>
        options.onError?.(
          new StoreError(
            'compacted',
            `revision ${from} is compacted; the oldest watchable revision is ${this.compacted + 1}`,
            this.compacted + 1,
          ),
        ),
      );
      return { close: () => {}, startRevision: from };
    }
    for (const entry of this.history)
      if (entry.revision >= from) this.deliver(w, entry.revision, entry.events);
    this.watchers.add(w);
    return {
      startRevision: from,
      close: () => {
        w.closed = true;
        this.watchers.delete(w);
      },
    };
  }

  /** Ends every watch with `err` (store closed or failed). */
  fail(err: StoreError): void {
    for (const w of this.watchers) {
      w.closed = true;
      w.options.onError?.(err);
    }
    this.watchers.clear();
  }
}
