// The agent side: follows the published VIP table in the store and keeps this node's kernel in
// step with it. The last table stays programmed while the masters or the store are away. Each
// entry is parsed on its own: a bad one is rejected (logged, counted, listed) and the others apply.
import type { Logger } from 'pino';
import type { RunOptions } from '../kernel/index.js';
import { Rejections } from '../reconcile/index.js';
import type { Store, Watch, WatchEvent } from '../store/index.js';
import { L4lbReconciler, type SyncResult } from './apply.js';
import { parseVipEntry, VIPS_PREFIX, type ParsedVip, type ParsedVipTable } from './types.js';

export interface L4lbAgentOptions {
  readonly store: Store;
  /** This node's underlay IPv4 address. */
  readonly selfIp: string;
  readonly log: Logger;
  /** Where refused entries are recorded (shared with the node's other roles). */
  readonly rejections?: Rejections;
  /** How often the kernel is read back and repaired. */
  readonly resyncMs: number;
  readonly kernel?: RunOptions;
  readonly onSynced?: (r: SyncResult) => void;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

export class L4lbAgent {
  private readonly vips = new Map<string, ParsedVip>();
  private readonly rejections: Rejections;
  private loaded = false;
  private watch: Watch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private readonly listeners = new Set<(r: SyncResult) => void>();
  readonly reconciler: L4lbReconciler;

  constructor(private readonly o: L4lbAgentOptions) {
    if (o.onSynced) this.listeners.add(o.onSynced);
    this.rejections = o.rejections ?? new Rejections(o.log);
    this.reconciler = new L4lbReconciler({
      selfIp: o.selfIp,
      log: o.log,
      ...(o.kernel && { kernel: o.kernel }),
      onSynced: (r) => {
        for (const fn of this.listeners) fn(r);
      },
    });
  }

  /** Calls `fn` after every successful sync (metrics). */
  onSynced(fn: (r: SyncResult) => void): void {
    this.listeners.add(fn);
  }

  /** The table as this node last saw it (in no particular order; unchanged VIPs keep their
   *  objects, which is how the data plane recognises them without comparing contents). */
  table(): ParsedVipTable {
    return { vips: [...this.vips.values()] };
  }

  /** The table this node's kernel serves now (undefined before the first load): what its DNS
   *  names should come from. */
  programmedTable(): ParsedVipTable | undefined {
    return this.reconciler.programmedTable;
  }

  get ready(): boolean {
    return this.loaded && this.reconciler.programmed !== undefined && !this.reconciler.error;
  }

  start(): void {
    void this.begin();
    this.timer = setInterval(() => {
      if (this.loaded) void this.reconciler.request(this.table(), true);
    }, this.o.resyncMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearInterval(this.timer);
    this.watch?.close();
    // The table stays in the kernel: traffic keeps flowing while dcnet restarts.
  }

  private set(key: string, value: string): void {
    const { vip, problems } = parseVipEntry(key, value);
    if (vip) {
      this.vips.set(key, vip);
      this.rejections.accept('vip', key);
    } else {
      // The key's earlier value goes too: what it said is no longer what the master publishes.
      this.vips.delete(key);
      this.rejections.reject('vip', key, problems!);
    }
  }

  private remove(key: string): void {
    this.vips.delete(key);
    this.rejections.accept('vip', key);
  }

  /** Loads every VIP, programs them, then follows changes; reloads when the watch ends. */
  private async begin(): Promise<void> {
    const { store } = this.o;
    for (let wait = 500; !this.abort.signal.aborted; wait = Math.min(wait * 2, 5000)) {
      try {
        const { kvs, revision } = await store.range(VIPS_PREFIX);
        this.vips.clear();
        this.rejections.retainOnly('vip', new Set(kvs.map((kv) => kv.key)));
        for (const kv of kvs) this.set(kv.key, kv.value);
        this.loaded = true;
        void this.reconciler.request(this.table(), true);
        this.watch = store.watch({
          prefix: VIPS_PREFIX,
          fromRevision: revision + 1,
          onEvents: (events) => this.onEvents(events),
          onError: (err) => {
            this.o.log.warn({ err: err.message }, 'VIP watch ended; reloading the table');
            void this.begin();
          },
        });
        return;
      } catch (err) {
        this.o.log.warn(
          { err: (err as Error).message },
          'VIP table not readable from the store; keeping the programmed one',
        );
        await sleep(wait, this.abort.signal);
      }
    }
  }

  private onEvents(events: readonly WatchEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'delete') this.remove(ev.kv.key);
      else this.set(ev.kv.key, ev.kv.value);
    }
    void this.reconciler.request(this.table());
  }
}
