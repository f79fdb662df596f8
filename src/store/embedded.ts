// The embedded Store backend: the KV state in memory, made durable by an append-only log with
// group commit (one fdatasync per batch of concurrent writes) and compacted into a snapshot when
// the log grows. Without a data directory it is a purely in-memory store (tests, benchmarks).
import { readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { KvState, type Snapshot, type WalRecord } from './kv-state.js';
import { WatchHub } from './watch-hub.js';
import { frame, readLog, snapshotPath, Wal, walPath, writeFileDurably } from './wal.js';
import { lockDataDir } from './lock.js';
import { loadOrCreateIdentity, newIdentity } from './identity.js';
import {
  StoreError,
  type KeyValue,
  type LeaseId,
  type RangeResult,
  type Store,
  type StoreIdentity,
  type TxnRequest,
  type TxnResult,
  type Watch,
  type WatchOptions,
} from './types.js';
import { TxnBackedStore } from './txn-backed.js';

export interface EmbeddedStoreOptions {
  /** Where the log and snapshot live; omit for a memory-only store. */
  readonly dataDir?: string;
  /** fdatasync each batch (default true). Only benchmarks of the non-durable peer turn it off. */
  readonly sync?: boolean;
  /** Compact once the log exceeds this many bytes (default 64 MiB). */
  readonly compactBytes?: number;
  /** Revisions of events kept for resuming watches (default 10,000). */
  readonly historyLimit?: number;
  /** How often lease expiry is checked (default 250 ms). */
  readonly leaseCheckMs?: number;
  /** Called once when the log fails for good (short write, write or fsync error): from then on
   *  every call fails and the owner should exit, so a supervisor restarts it from what is durable. */
  readonly onFatal?: (err: StoreError) => void;
}

export interface RecoveryReport {
  readonly snapshotRevision: number;
  readonly replayedRecords: number;
  readonly tornBytes: number;
  readonly revision: number;
  readonly keys: number;
  /** The data directory got its identity now (a new store, or one older than identities). */
  readonly identityCreated: boolean;
}

async function readSnapshot(path: string): Promise<Snapshot | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StoreError('io', `cannot read ${path}: ${(err as Error).message}`);
  }
  const nl = text.indexOf('\n');
  const body = text.slice(nl + 1);
  if (nl !== 8 || crc32(body).toString(16).padStart(8, '0') !== text.slice(0, 8)) {
    throw new StoreError('corrupt', `${path}: checksum mismatch; the snapshot is damaged`);
  }
  return JSON.parse(body) as Snapshot;
}

function parseRecord(line: string, path: string): WalRecord {
  try {
    return JSON.parse(line) as WalRecord;
  } catch {
    throw new StoreError('corrupt', `${path}: a record passed its checksum but is not JSON`);
  }
}

export class EmbeddedStore extends TxnBackedStore implements Store {
  private closed = false;
  private readonly leaseDeadlines = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly hub: WatchHub;

  private constructor(
    private readonly state: KvState,
    private readonly wal: Wal | undefined,
    private readonly unlock: (() => Promise<void>) | undefined,
    private readonly options: EmbeddedStoreOptions,
    readonly recovery: RecoveryReport,
    /** Created once and kept in the data directory (`ID`); a memory store gets a new one. */
    readonly identity: StoreIdentity,
  ) {
    super();
    this.hub = new WatchHub(state.revision, options.historyLimit);
    // Watchers must not keep waiting for events that will never be durable: they get the error.
    wal?.onFailure((err) => {
      this.hub.fail(err);
      options.onFatal?.(err);
    });
    const now = Date.now();
    for (const [id, lease] of state.leases) this.leaseDeadlines.set(id, now + lease.ttl * 1000);
    this.timer = setInterval(() => this.expireLeases(), options.leaseCheckMs ?? 250);
    this.timer.unref();
  }

  static async open(options: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
    const dir = options.dataDir;
    if (dir === undefined) {
      return new EmbeddedStore(
        new KvState(),
        undefined,
        undefined,
        options,
        {
          snapshotRevision: 0,
          replayedRecords: 0,
          tornBytes: 0,
          revision: 0,
          keys: 0,
          identityCreated: true,
        },
        newIdentity(),
      );
    }
    const unlock = await lockDataDir(dir);
    try {
      const { identity, created } = await loadOrCreateIdentity(dir);
      const snap = await readSnapshot(snapshotPath(dir));
      const state = snap ? KvState.fromSnapshot(snap) : new KvState();
      const log = await readLog(walPath(dir));
      let replayed = 0;
      for (const line of log.lines) {
        const rec = parseRecord(line, walPath(dir));
        if (rec.s <= state.seq) continue; // already in the snapshot
        state.apply(rec);
        replayed++;
      }
      const wal = await Wal.open(
        walPath(dir),
        options.sync ?? true,
        log.tornBytes > 0 ? log.validBytes : undefined,
      );
      return new EmbeddedStore(
        state,
        wal,
        unlock,
        options,
        {
          snapshotRevision: snap?.revision ?? 0,
          replayedRecords: replayed,
          tornBytes: log.tornBytes,
          revision: state.revision,
          keys: state.kvs.size,
          identityCreated: created,
        },
        identity,
      );
    } catch (err) {
      await unlock();
      throw err;
    }
  }

  private check(): void {
    if (this.closed) throw new StoreError('closed', 'store is closed');
    const failed = this.wal?.failed;
    if (failed) throw failed;
  }

  /** Applies a record now (so later transactions see it) and resolves once it is durable. */
  private commit(rec: WalRecord): Promise<void> {
    const events = this.state.apply(rec);
    const revision = this.state.revision;
    if (!this.wal) {
      return Promise.resolve().then(() => this.hub.publish(revision, events));
    }
    const done = this.wal.append(frame(JSON.stringify(rec)), () => this.hub.publish(revision, events));
    if (this.wal.size > (this.options.compactBytes ?? 64 * 1024 * 1024)) this.scheduleCompaction();
    return done;
  }

  private compacting = false;
  private scheduleCompaction(): void {
    const wal = this.wal;
    const dir = this.options.dataDir;
    if (!wal || !dir || this.compacting) return;
    this.compacting = true;
    wal.scheduleMaintenance(async () => {
      try {
        // The snapshot may include records still queued behind this task; they are skipped on
        // replay by their sequence number, so the result is the same either way.
        const body = JSON.stringify(this.state.snapshot());
        await writeFileDurably(snapshotPath(dir), `${crc32(body).toString(16).padStart(8, '0')}\n${body}`);
        await wal.reset();
      } finally {
        this.compacting = false;
      }
    });
  }

  /** Forces a snapshot and an empty log (tests; normally size-triggered). */
  async compact(): Promise<void> {
    this.check();
    this.scheduleCompaction();
    await this.wal?.idle();
  }

  /** Log statistics: how many records were written in how many fsync'd batches. */
  stats(): { walBytes: number; batches: number; records: number } {
    return {
      walBytes: this.wal?.size ?? 0,
      batches: this.wal?.batches ?? 0,
      records: this.wal?.records ?? 0,
    };
  }

  get revision(): number {
    return this.state.revision;
  }

  /** The log's failure, once it failed for good (the store serves nothing after it). */
  get failure(): StoreError | undefined {
    return this.wal?.failed;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.check();
    return this.state.kvs.get(key);
  }

  async range(prefix: string): Promise<RangeResult> {
    this.check();
    return { kvs: this.state.range(prefix), revision: this.state.revision };
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    this.check();
    const { succeeded, record } = this.state.prepareTxn(request);
    if (!record) return { succeeded, revision: this.state.revision };
    await this.commit(record);
    return { succeeded, revision: 'r' in record ? record.r : this.state.revision };
  }

  async grantLease(ttlSeconds: number): Promise<LeaseId> {
    this.check();
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new StoreError('invalid', `lease TTL must be a whole number of seconds ≥ 1, got ${ttlSeconds}`);
    }
    const rec = this.state.prepareLeaseGrant(ttlSeconds);
    const id = (rec as { lg: number }).lg;
    this.leaseDeadlines.set(id, Date.now() + ttlSeconds * 1000);
    await this.commit(rec);
    return String(id);
  }

  async keepAlive(lease: LeaseId): Promise<number> {
    this.check();
    const id = Number(lease);
    const l = this.state.leases.get(id);
    if (!l) throw new StoreError('lease-not-found', `lease ${lease} not found (expired or revoked)`);
    this.leaseDeadlines.set(id, Date.now() + l.ttl * 1000);
    return l.ttl;
  }

  async revokeLease(lease: LeaseId): Promise<void> {
    this.check();
    const rec = this.state.prepareLeaseRevoke(Number(lease));
    this.leaseDeadlines.delete(Number(lease));
    await this.commit(rec);
  }

  private expireLeases(): void {
    if (this.closed || this.wal?.failed) return;
    const now = Date.now();
    for (const [id, deadline] of this.leaseDeadlines) {
      if (deadline > now || !this.state.leases.has(id)) continue;
      this.leaseDeadlines.delete(id);
      this.commit(this.state.prepareLeaseRevoke(id)).catch(() => {
        // The log failed; every caller and watcher already gets that error.
      });
    }
  }

  watch(options: WatchOptions): Watch {
    this.check();
    return this.hub.watch(options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.wal?.close();
    this.hub.fail(new StoreError('closed', 'store is closed'));
    await this.unlock?.();
  }
}
