// The Store: the only channel between dcnet nodes (ARCHITECTURE.md). An etcd-shaped contract (KV
// with revisions, compare-and-set transactions, prefix watches that resume from a revision, leases)
// so that the embedded backend and the etcd backend are interchangeable behind one set of tests.

/** Lease ids are strings: etcd's are 64-bit, beyond JavaScript's exact integers. */
export type LeaseId = string;
/** The lease of a key that has none (etcd's convention). */
export const NO_LEASE: LeaseId = '0';

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Revision of the write that created the key (unchanged by later puts). */
  readonly createRevision: number;
  /** Revision of the last write to the key. */
  readonly modRevision: number;
  /** Number of puts since creation (1 after the first). */
  readonly version: number;
  /** Lease the key is attached to; NO_LEASE ('0') for none. */
  readonly lease: LeaseId;
}

export type CompareTarget = 'version' | 'createRevision' | 'modRevision' | 'value';
export type CompareResult = 'equal' | 'notEqual' | 'greater' | 'less';

/** A missing key compares as version/createRevision/modRevision 0 and value "". */
export interface Compare {
  readonly key: string;
  readonly target: CompareTarget;
  readonly result: CompareResult;
  readonly value: number | string;
}

export type Op =
  | { readonly type: 'put'; readonly key: string; readonly value: string; readonly lease?: LeaseId }
  | { readonly type: 'delete'; readonly key: string };

export interface TxnRequest {
  readonly compare?: readonly Compare[];
  readonly success: readonly Op[];
  readonly failure?: readonly Op[];
}

export interface TxnResult {
  readonly succeeded: boolean;
  /** Store revision after the transaction (unchanged if it wrote nothing). */
  readonly revision: number;
}

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  /** For a delete: the key with `modRevision` = the deleting revision and an empty value. */
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

export interface WatchOptions {
  readonly prefix: string;
  /** First revision to deliver (inclusive); default: from when the store registers the watch
   *  (for a remote store that is shortly after the call: pass a revision to miss nothing). */
  readonly fromRevision?: number;
  /** Events of one revision are delivered together, in revision order. */
  readonly onEvents: (events: readonly WatchEvent[], revision: number) => void;
  /** The watch ended: `compacted` (resync with a range read), `closed` or an I/O failure. */
  readonly onError?: (err: StoreError) => void;
  /** Remote stores: the watch lost (false) or regained (true) its connection; it resumes by itself. */
  readonly onConnection?: (connected: boolean) => void;
}

export interface Watch {
  close(): void;
  /** The first revision this watch delivers (where a resumed watch should continue from). */
  readonly startRevision: number;
}

export interface RangeResult {
  readonly kvs: readonly KeyValue[];
  readonly revision: number;
}

export interface Store {
  get(key: string): Promise<KeyValue | undefined>;
  /** All keys starting with `prefix`, in key order, at one revision. */
  range(prefix: string): Promise<RangeResult>;
  put(key: string, value: string, options?: { lease?: LeaseId }): Promise<number>;
  delete(key: string): Promise<{ revision: number; deleted: boolean }>;
  /** Atomic: if every compare holds, apply `success`, else `failure`. Resolves once durable. */
  txn(request: TxnRequest): Promise<TxnResult>;
  grantLease(ttlSeconds: number): Promise<LeaseId>;
  /** Refreshes a lease's TTL; rejects with `lease-not-found` once it expired or was revoked. */
  keepAlive(lease: LeaseId): Promise<number>;
  /** Deletes the lease and every key attached to it. */
  revokeLease(lease: LeaseId): Promise<void>;
  watch(options: WatchOptions): Watch;
  close(): Promise<void>;
}

/** Which store this is: the cluster ID is shared by every server of the same data, the member ID
 *  names one server (see identity.ts). */
export interface StoreIdentity {
  readonly clusterId: string;
  readonly memberId: string;
}

export type StoreErrorCode =
  | 'compacted'
  | 'lease-not-found'
  | 'closed'
  | 'io'
  | 'corrupt'
  | 'invalid'
  /** A remote store could not be reached (retry later). */
  | 'unavailable'
  /** A remote store answered with another cluster ID than the one this client first saw: it is
   *  an independent store, and its data must not be mixed with the first one's. */
  | 'foreign-cluster';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    /** For `compacted`: the oldest revision still available. */
    readonly compactRevision?: number,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
