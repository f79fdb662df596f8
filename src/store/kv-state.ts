// The in-memory key-value state of the embedded store: keys with revisions, leases, and the
// deterministic application of log records. No I/O here: the same code applies a live
// transaction and replays the log after a restart, so both always agree.
import {
  NO_LEASE,
  StoreError,
  type Compare,
  type KeyValue,
  type Op,
  type TxnRequest,
  type WatchEvent,
} from './types.js';

/** One log record. `s` is a gap-free sequence number over all records (snapshots cut by it). */
export type WalRecord =
  | { readonly s: number; readonly r: number; readonly ops: readonly RecordedOp[] }
  | { readonly s: number; readonly lg: number; readonly ttl: number }
  | { readonly s: number; readonly r: number; readonly lr: number };

export type RecordedOp =
  { readonly p: string; readonly v: string; readonly l?: number } | { readonly d: string };

export interface Snapshot {
  readonly seq: number;
  readonly revision: number;
  readonly nextLease: number;
  readonly kvs: readonly KeyValue[];
  readonly leases: readonly { readonly id: number; readonly ttl: number }[];
}

interface Lease {
  readonly ttl: number;
  readonly keys: Set<string>;
}

function compareHolds(c: Compare, kv: KeyValue | undefined): boolean {
  const actual: number | string =
    c.target === 'value'
      ? (kv?.value ?? '')
      : c.target === 'version'
        ? (kv?.version ?? 0)
        : (kv?.[c.target] ?? 0);
  switch (c.result) {
    case 'equal':
      return actual === c.value;
    case 'notEqual':
      return actual !== c.value;
    case 'greater':
      return actual > c.value;
    case 'less':
      return actual < c.value;
  }
}

export class KvState {
  readonly kvs = new Map<string, KeyValue>();
  readonly leases = new Map<number, Lease>();
  revision = 0;
  seq = 0;
  nextLease = 1;

  static fromSnapshot(snap: Snapshot): KvState {
    const state = new KvState();
    state.seq = snap.seq;
    state.revision = snap.revision;
    state.nextLease = snap.nextLease;
    for (const l of snap.leases) state.leases.set(l.id, { ttl: l.ttl, keys: new Set() });
    for (const kv of snap.kvs) {
      state.kvs.set(kv.key, kv);
      if (kv.lease !== NO_LEASE) state.leases.get(Number(kv.lease))?.keys.add(kv.key);
    }
    return state;
  }

  snapshot(): Snapshot {
    return {
      seq: this.seq,
      revision: this.revision,
      nextLease: this.nextLease,
      kvs: [...this.kvs.values()],
      leases: [...this.leases].map(([id, l]) => ({ id, ttl: l.ttl })),
    };
  }

  /** Decides a transaction and returns the record to log, or undefined when it writes nothing. */
  prepareTxn(req: TxnRequest): { succeeded: boolean; record?: WalRecord } {
    const succeeded = (req.compare ?? []).every((c) => compareHolds(c, this.kvs.get(c.key)));
    const ops: readonly Op[] = succeeded ? req.success : (req.failure ?? []);
    for (const op of ops) {
      if (
        op.type === 'put' &&
        op.lease !== undefined &&
        op.lease !== NO_LEASE &&
        !this.leases.has(Number(op.lease))
      ) {
        throw new StoreError('lease-not-found', `lease ${op.lease} not found (expired or revoked)`);
      }
    }
    if (ops.length === 0) return { succeeded };
    const recorded = ops.map((op): RecordedOp =>
      op.type === 'put'
        ? {
            p: op.key,
            v: op.value,
            ...(op.lease !== undefined && op.lease !== NO_LEASE ? { l: Number(op.lease) } : {}),
          }
        : { d: op.key },
    );
    // A transaction that only deletes missing keys changes nothing and takes no revision.
    if (recorded.every((o) => 'd' in o && !this.kvs.has(o.d))) return { succeeded };
    return { succeeded, record: { s: this.seq + 1, r: this.revision + 1, ops: recorded } };
  }

  prepareLeaseGrant(ttl: number): WalRecord {
    return { s: this.seq + 1, lg: this.nextLease, ttl };
  }

  prepareLeaseRevoke(id: number): WalRecord {
    const lease = this.leases.get(id);
    if (!lease) throw new StoreError('lease-not-found', `lease ${id} not found (expired or revoked)`);
    return { s: this.seq + 1, r: lease.keys.size > 0 ? this.revision + 1 : this.revision, lr: id };
  }

  /** Applies a record (live or replayed) and returns the watch events it produced. */
  apply(rec: WalRecord): WatchEvent[] {
    if (rec.s !== this.seq + 1) {
      throw new StoreError('corrupt', `log record sequence ${rec.s} does not follow ${this.seq}`);
    }
    this.seq = rec.s;
    if ('lg' in rec) {
      this.leases.set(rec.lg, { ttl: rec.ttl, keys: new Set() });
      this.nextLease = Math.max(this.nextLease, rec.lg + 1);
      return [];
    }
    if ('lr' in rec) {
      const lease = this.leases.get(rec.lr);
      this.leases.delete(rec.lr);
      const events: WatchEvent[] = [];
      for (const key of [...(lease?.keys ?? [])].sort()) {
        const ev = this.deleteKey(key, rec.r);
        if (ev) events.push(ev);
      }
      this.revision = rec.r;
      return events;
    }
    const events: WatchEvent[] = [];
    for (const op of rec.ops) {
      if ('d' in op) {
        const ev = this.deleteKey(op.d, rec.r);
        if (ev) events.push(ev);
        continue;
      }
      const prev = this.kvs.get(op.p);
      const lease = op.l ?? 0;
      const kv: KeyValue = {
        key: op.p,
        value: op.v,
        createRevision: prev ? prev.createRevision : rec.r,
        modRevision: rec.r,
        version: (prev?.version ?? 0) + 1,
        lease: lease ? String(lease) : NO_LEASE,
      };
      if (prev && prev.lease !== NO_LEASE) this.leases.get(Number(prev.lease))?.keys.delete(op.p);
      if (lease) this.leases.get(lease)?.keys.add(op.p);
      this.kvs.set(op.p, kv);
      events.push(prev ? { type: 'put', kv, prevKv: prev } : { type: 'put', kv });
    }
    this.revision = rec.r;
    return events;
  }

  private deleteKey(key: string, revision: number): WatchEvent | undefined {
    const prev = this.kvs.get(key);
    if (!prev) return undefined;
    this.kvs.delete(key);
    if (prev.lease !== NO_LEASE) this.leases.get(Number(prev.lease))?.keys.delete(key);
    const kv: KeyValue = {
      key,
      value: '',
      createRevision: 0,
      modRevision: revision,
      version: 0,
      lease: NO_LEASE,
    };
    return { type: 'delete', kv, prevKv: prev };
  }

  range(prefix: string): KeyValue[] {
    const out: KeyValue[] = [];
    for (const kv of this.kvs.values()) if (kv.key.startsWith(prefix)) out.push(kv);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
