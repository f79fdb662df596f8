// The Store on etcd (the `etcd3` gRPC client): the same contract as the embedded backend, so
// several masters can share one replicated store. Revisions, compare-and-set and prefix watches
// map 1:1 onto etcd's; lease ids are etcd's 64-bit ids as decimal strings.
import { Etcd3, type IOptions, type IKeyValue, type Namespace, type Watcher } from 'etcd3';
import {
  NO_LEASE,
  StoreError,
  type Compare,
  type KeyValue,
  type LeaseId,
  type Op,
  type RangeResult,
  type Store,
  type TxnRequest,
  type TxnResult,
  type Watch,
  type WatchEvent,
  type WatchOptions,
} from './types.js';
import { TxnBackedStore } from './txn-backed.js';

export interface EtcdStoreOptions {
  /** host:port of each member. */
  readonly endpoints: readonly string[];
  /** Per-call deadline (default 5 s). */
  readonly timeoutMs?: number;
  /** Key prefix for everything this store does (several clusters, or tests, in one etcd). */
  readonly prefix?: string;
  /** TLS to etcd (PEM text): the CA that signed the members' certificates and, for etcd's
   *  `--client-cert-auth`, this client's certificate and key. */
  readonly tls?: EtcdTls;
}

export interface EtcdTls {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

/** Parses `etcd://HOST:PORT[,…]` (plain) or `etcds://HOST:PORT[,…]` (TLS, as etcd's https URLs). */
export function parseStoreUrl(url: string): { endpoints: string[]; tls: boolean } {
  const m = /^etcd(s?):\/\/(.+)$/.exec(url);
  const hosts = m?.[2]?.split(',').map((h) => h.trim()) ?? [];
  if (hosts.length === 0 || hosts.some((h) => !/^[^\s:/]+:\d{1,5}$|^\[[^\]]+\]:\d{1,5}$/.test(h))) {
    throw new StoreError('invalid', `"${url}" is not etcd://HOST:PORT[,HOST:PORT…] or etcds://…`);
  }
  return { endpoints: hosts, tls: m![1] === 's' };
}

/** The endpoints of an `etcd://` or `etcds://` URL. */
export function parseEtcdUrl(url: string): string[] {
  return parseStoreUrl(url).endpoints;
}

const TARGET: Record<Compare['target'], 'Version' | 'Create' | 'Mod' | 'Value'> = {
  version: 'Version',
  createRevision: 'Create',
  modRevision: 'Mod',
  value: 'Value',
};
const RESULT: Record<Compare['result'], '==' | '!=' | '>' | '<'> = {
  equal: '==',
  notEqual: '!=',
  greater: '>',
  less: '<',
};

function toKv(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: kv.lease && kv.lease !== '0' ? String(kv.lease) : NO_LEASE,
  };
}

/** Maps etcd/gRPC failures onto the Store's error codes. */
function storeError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const msg = (err as Error)?.message ?? String(err);
  if (/lease not found/i.test(msg)) return new StoreError('lease-not-found', msg);
  if (/compacted/i.test(msg)) return new StoreError('compacted', msg);
  return new StoreError('unavailable', `etcd: ${msg}`);
}

export class EtcdStore extends TxnBackedStore implements Store {
  readonly etcd: Etcd3;
  /** The client or its namespaced view (keys, leases and watches all go through it). */
  readonly client: Namespace;
  private closed = false;

  constructor(readonly options: EtcdStoreOptions) {
    super();
    const tls = options.tls;
    if (tls && (tls.cert === undefined) !== (tls.key === undefined)) {
      throw new StoreError(
        'invalid',
        'etcd TLS: a client certificate needs its key, and a key its certificate',
      );
    }
    const opts: IOptions = {
      hosts: options.endpoints.map((h) => `${tls ? 'https' : 'http'}://${h}`),
      ...(tls && {
        credentials: {
          rootCertificate: Buffer.from(tls.ca),
          ...(tls.cert !== undefined && {
            certChain: Buffer.from(tls.cert),
            privateKey: Buffer.from(tls.key!),
          }),
        },
      }),
      dialTimeout: options.timeoutMs ?? 5000,
      defaultCallOptions: () => ({ deadline: Date.now() + (options.timeoutMs ?? 5000) }),
    };
    this.etcd = new Etcd3(opts);
    this.client = options.prefix ? this.etcd.namespace(options.prefix) : this.etcd;
  }

  private async wrap<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreError('closed', 'store client is closed');
    try {
      return await fn();
    } catch (err) {
      throw storeError(err);
    }
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.wrap(async () => {
      const res = await this.client.get(key).exec();
      return res.kvs[0] ? toKv(res.kvs[0]) : undefined;
    });
  }

  range(prefix: string): Promise<RangeResult> {
    return this.wrap(async () => {
      const res = await this.client.getAll().prefix(prefix).sort('Key', 'Ascend').exec();
      return { kvs: res.kvs.map(toKv), revision: Number(res.header.revision) };
    });
  }

  private op(op: Op) {
    if (op.type === 'delete') return this.client.delete().key(op.key);
    const put = this.client.put(op.key).value(op.value);
    return op.lease !== undefined && op.lease !== NO_LEASE ? put.lease(op.lease) : put;
  }

  txn(request: TxnRequest): Promise<TxnResult> {
    return this.wrap(async () => {
      let builder = this.client.if('\0dcnet-always', 'Version', '==', 0);
      // etcd needs at least one comparison to choose a branch; a key that never exists makes
      // an always-true one when the request has none.
      if (request.compare?.length) {
        const [first, ...rest] = request.compare;
        builder = this.client.if(first!.key, TARGET[first!.target], RESULT[first!.result], first!.value);
        for (const c of rest) builder = builder.and(c.key, TARGET[c.target], RESULT[c.result], c.value);
      }
      const res = await builder
        .then(...request.success.map((o) => this.op(o)))
        .else(...(request.failure ?? []).map((o) => this.op(o)))
        .commit();
      return { succeeded: res.succeeded, revision: Number(res.header.revision) };
    });
  }

  grantLease(ttlSeconds: number): Promise<LeaseId> {
    return this.wrap(async () => {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
        throw new StoreError('invalid', `lease TTL must be a whole number of seconds ≥ 1, got ${ttlSeconds}`);
      }
      const res = await this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 });
      return String(res.ID);
    });
  }

  keepAlive(lease: LeaseId): Promise<number> {
    return this.wrap(async () => {
      const stream = await this.client.leaseClient.leaseKeepAlive();
      try {
        const res = await new Promise<{ ID: string; TTL: string }>((resolve, reject) => {
          stream.on('data', resolve);
          stream.on('error', reject);
          stream.write({ ID: lease });
        });
        if (Number(res.TTL) <= 0)
          throw new StoreError('lease-not-found', `lease ${lease} not found (expired or revoked)`);
        return Number(res.TTL);
      } finally {
        stream.end();
      }
    });
  }

  revokeLease(lease: LeaseId): Promise<void> {
    return this.wrap(async () => {
      await this.client.leaseClient.leaseRevoke({ ID: lease });
    });
  }

  watch(options: WatchOptions): Watch {
    let watcher: Watcher | undefined;
    let closed = false;
    /** The next revision this watch would deliver (to tell a compacted start from other cancels). */
    let next = options.fromRevision;
    const builder = this.client.watch().prefix(options.prefix).withPreviousKV();
    if (options.fromRevision !== undefined) builder.startRevision(String(options.fromRevision));
    builder
      .create()
      .then((w) => {
        watcher = w;
        if (closed) {
          void w.cancel();
          return;
        }
        options.onConnection?.(true);
        w.on('connected', () => options.onConnection?.(true));
        w.on('disconnected', () => options.onConnection?.(false));
        w.on('data', (res) => {
          // One response may carry several revisions: deliver them one revision at a time.
          const byRevision = new Map<number, WatchEvent[]>();
          for (const e of res.events) {
            const kv = toKv(e.kv);
            const ev: WatchEvent =
              String(e.type) === 'Delete' || String(e.type) === '1'
                ? {
                    type: 'delete',
                    kv: { ...kv, value: '', createRevision: 0, version: 0, lease: NO_LEASE },
                    ...(e.prev_kv && { prevKv: toKv(e.prev_kv) }),
                  }
                : { type: 'put', kv, ...(e.prev_kv && { prevKv: toKv(e.prev_kv) }) };
            const list = byRevision.get(kv.modRevision) ?? [];
            list.push(ev);
            byRevision.set(kv.modRevision, list);
          }
          for (const [rev, evs] of [...byRevision].sort((a, b) => a[0] - b[0])) {
            next = rev + 1;
            options.onEvents(evs, rev);
          }
        });
        w.on('error', (err: Error) => {
          if (closed) return;
          // etcd cancels a watch whose start revision was compacted, often without a reason text:
          // ask for that revision to tell compaction from other cancellations.
          const from = next;
          if (!/canceled/i.test(err.message) || from === undefined) return options.onError?.(storeError(err));
          this.client
            .getAll()
            .prefix(options.prefix)
            .revision(String(from))
            .exec()
            .then(
              () => options.onError?.(storeError(err)),
              (probe: unknown) => options.onError?.(storeError(probe)),
            );
        });
      })
      .catch((err: unknown) => {
        if (!closed) options.onError?.(storeError(err));
      });
    return {
      startRevision: options.fromRevision ?? 0,
      close: () => {
        closed = true;
        if (watcher) void watcher.cancel().catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.etcd.close();
  }
}
