// The agent side: follows the published VIP table in the store and keeps this node's kernel in
// step with it. The last table stays programmed while the masters or the store are away.
import type { Logger } from 'pino';
import type { RunOptions } from '../kernel/index.js';
import type { Store, Watch, WatchEvent } from '../store/index.js';
import { L4lbReconciler, type SyncResult } from './apply.js';
import { parseVipJson, VIPS_PREFIX, type Vip, type VipTable } from './types.js';

export interface L4lbAgentOptions {
  readonly store: Store;
  readonly selfIp: string;
  readonly log: Logger;
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
  private readonly vips = new Map<string, Vip>();
  private loaded = false;
  private watch: Watch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private readonly listeners = new Set<(r: SyncResult) => void>();
  readonly reconciler: L4lbReconciler;

  constructor(private readonly o: L4lbAgentOptions) {
    if (o.onSynced) this.listeners.add(o.onSynced);
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
  table(): VipTable {
    return { vips: [...this.vips.values()] };
  }

  /** The table this node's kernel serves now (undefined before the first load): what its DNS
   *  names should come from. */
  programmedTable(): VipTable | undefined {
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
    const { vip, problem } = parseVipJson(value);
    if (vip) this.vips.set(key, vip);
    else {
      this.vips.delete(key);
      this.o.log.warn({ key, problem }, 'ignoring malformed VIP in the store');
    }
  }

  /** Loads every VIP, programs them, then follows changes; reloads when the watch ends. */
  private async begin(): Promise<void> {
    const { store } = this.o;
    for (let wait = 500; !this.abort.signal.aborted; wait = Math.min(wait * 2, 5000)) {
      try {
        const { kvs, revision } = await store.range(VIPS_PREFIX);
        this.vips.clear();
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
      if (ev.type === 'delete') this.vips.delete(ev.kv.key);
      else this.set(ev.kv.key, ev.kv.value);
    }
    void this.reconciler.request(this.table());
  }
}
