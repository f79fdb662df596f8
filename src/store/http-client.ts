// A Store reached over HTTP (the master's embedded store, served by http-server.ts). Calls map
// 1:1 onto the server's routes; a watch is a stream of JSON lines that reconnects by itself and
// resumes after the last revision it delivered, so a master restart loses no event.
import {
  StoreError,
  type KeyValue,
  type LeaseId,
  type RangeResult,
  type Store,
  type TxnRequest,
  type TxnResult,
  type Watch,
  type WatchOptions,
} from './types.js';
import { TxnBackedStore } from './txn-backed.js';
import { CLUSTER_ID_HEADER, MEMBER_ID_HEADER, STORE_PREFIX } from './http-server.js';
import { plainClient, tlsClient, type ControlClient, type TlsFiles } from '../pki/index.js';

export interface HttpStoreOptions {
  /** Per-call timeout (default 10 s). */
  readonly timeoutMs?: number;
  /** A watch with no line (event or heartbeat) for this long is reconnected (default 15 s). */
  readonly watchIdleMs?: number;
  /** Reconnect backoff bounds (default 100 ms to 5 s). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** This node's certificate: calls and watches go over https to masters only (by certificate). */
  readonly tls?: TlsFiles;
  /** A client to share (e.g. the agent's); takes precedence over `tls`. Not closed by close(). */
  readonly client?: ControlClient;
  /** The cluster ID this client must find (default: the first one a server names). */
  readonly clusterId?: string;
  /** Told of every answer refused for a foreign cluster ID (log it, count it): the call fails
   *  with `foreign-cluster`; a watch goes on trying the other URLs. */
  readonly onForeignCluster?: (err: StoreError) => void;
}

type Line =
  | { start: number; clusterId?: string; memberId?: string }
  | { heartbeat: true }
  | { revision: number; events: WatchOptions['onEvents'] extends (e: infer E, r: number) => void ? E : never }
  | { error: { code: StoreError['code']; message: string; compactRevision?: number } };

export class HttpStore extends TxnBackedStore implements Store {
  private closed = false;
  private readonly watches = new Set<{ close(): void }>();
  private readonly urls: readonly string[];
  private current = 0;
  private readonly client: ControlClient;
  private readonly ownClient: boolean;
  private pinned: { clusterId: string; url: string } | undefined;
  /** URLs whose /status named our cluster since their last failure: calls may go there. */
  private readonly verified = new Set<string>();

  constructor(
    /** One master's URL, or several (HA): calls and watches move on when one does not answer. */
    baseUrls: string | readonly string[],
    private readonly options: HttpStoreOptions = {},
  ) {
    super();
    this.urls = typeof baseUrls === 'string' ? [baseUrls] : [...baseUrls];
    if (this.urls.length === 0) throw new StoreError('invalid', 'no store URL given');
    this.ownClient = !options.client && options.tls !== undefined;
    this.client =
      options.client ?? (options.tls ? tlsClient(options.tls, { requirePeerRole: 'master' }) : plainClient);
    if (options.clusterId !== undefined) this.pinned = { clusterId: options.clusterId, url: '(configured)' };
  }

  /** The cluster ID this client holds to (the first one it saw), once it saw one. */
  get clusterId(): string | undefined {
    return this.pinned?.clusterId;
  }

  /** Keeps the first cluster ID a server names; refuses any answer naming another one (or none,
   *  once one was seen): two independent stores must never be served to one client as one.
   *  Public so that other calls to the same masters (the agent's registration) are held to it. */
  verifyCluster(url: string, clusterId: string | null | undefined, memberId?: string | null): void {
    if (clusterId && this.pinned === undefined) {
      this.pinned = { clusterId, url };
      return;
    }
    if (this.pinned === undefined || clusterId === this.pinned.clusterId) return;
    const err = new StoreError(
      'foreign-cluster',
      `store at ${url} is cluster ${clusterId || '(none named)'}${memberId ? ` (member ${memberId})` : ''}, ` +
        `but this client's store is cluster ${this.pinned.clusterId} (first seen at ${this.pinned.url}): ` +
        `refusing it; are two independent masters in one --master list?`,
    );
    this.options.onForeignCluster?.(err);
    throw err;
  }

  /** The URL in use; another one is tried after a failure. */
  get baseUrl(): string {
    return this.urls[this.current % this.urls.length]!;
  }

  private rotate(): void {
    this.verified.delete(this.baseUrl);
    this.current = (this.current + 1) % this.urls.length;
  }

  /** Asks a master which store it serves (GET /status) before anything is sent to it: a write must
   *  never reach a foreign store, even once. Done again after that URL failed (it may have been
   *  replaced); between failures the headers of every answer are still checked. */
  async verifyMaster(url: string): Promise<void> {
    if (this.verified.has(url)) return;
    let res: Response;
    try {
      res = await this.client.fetch(`${url}${STORE_PREFIX}/status`, {
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new StoreError('unavailable', `store at ${url} unreachable: ${(err as Error).message}`);
    }
    await res.body?.cancel().catch(() => {});
    if (!res.ok)
      // 401/403 (the access table) are the caller's mistake, not an outage: 'invalid'.
      throw new StoreError(
        res.status === 401 || res.status === 403 ? 'invalid' : 'unavailable',
        `store at ${url} answered ${res.status} to /status`,
      );
    this.verifyCluster(url, res.headers.get(CLUSTER_ID_HEADER), res.headers.get(MEMBER_ID_HEADER));
    this.verified.add(url);
  }

  private async call<T>(path: string, body: unknown): Promise<T> {
    if (this.closed) throw new StoreError('closed', 'store client is closed');
    let res: Response;
    try {
      await this.verifyMaster(this.baseUrl);
    } catch (err) {
      this.rotate();
      throw err;
    }
    try {
      res = await this.client.fetch(`${this.baseUrl}${STORE_PREFIX}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      const failed = this.baseUrl;
      this.rotate();
      throw new StoreError('unavailable', `store at ${failed} unreachable: ${(err as Error).message}`);
    }
    try {
      this.verifyCluster(this.baseUrl, res.headers.get(CLUSTER_ID_HEADER), res.headers.get(MEMBER_ID_HEADER));
    } catch (err) {
      await res.body?.cancel().catch(() => {});
      this.rotate();
      throw err;
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new StoreError(
        'unavailable',
        `store at ${this.baseUrl} answered ${res.status} with non-JSON: ${text.slice(0, 200)}`,
      );
    }
    if (!res.ok) {
      const e = data as { code?: string; error?: string; compactRevision?: number };
      // 401/403 (the access table) are the caller's mistake, not an outage: 'invalid'.
      const code = res.status === 401 || res.status === 403 ? 'invalid' : (e.code as StoreError['code']);
      throw new StoreError(code ?? 'unavailable', e.error ?? `HTTP ${res.status}`, e.compactRevision);
    }
    return data as T;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return (await this.call<{ kv: KeyValue | null }>('/get', { key })).kv ?? undefined;
  }

  range(prefix: string): Promise<RangeResult> {
    return this.call('/range', { prefix });
  }

  txn(request: TxnRequest): Promise<TxnResult> {
    return this.call('/txn', request);
  }

  async grantLease(ttlSeconds: number): Promise<LeaseId> {
    return (await this.call<{ id: LeaseId }>('/lease/grant', { ttl: ttlSeconds })).id;
  }

  async keepAlive(lease: LeaseId): Promise<number> {
    return (await this.call<{ ttl: number }>('/lease/keepalive', { id: lease })).ttl;
  }

  async revokeLease(lease: LeaseId): Promise<void> {
    await this.call('/lease/revoke', { id: lease });
  }

  watch(options: WatchOptions): Watch {
    let next = options.fromRevision;
    let stopped = false;
    let controller: AbortController | undefined;
    let connected = false;
    let delay = this.options.retryMinMs ?? 100;
    const maxDelay = this.options.retryMaxMs ?? 5000;
    const idleMs = this.options.watchIdleMs ?? 15_000;

    const setConnected = (up: boolean): void => {
      if (up === connected) return;
      connected = up;
      options.onConnection?.(up);
    };
    const stop = (err?: StoreError): void => {
      if (stopped) return;
      stopped = true;
      controller?.abort();
      this.watches.delete(handle);
      if (err) options.onError?.(err);
    };

    const once = async (): Promise<void> => {
      controller = new AbortController();
      let idle = setTimeout(() => controller?.abort(), idleMs);
      const base = this.baseUrl;
      const url = `${base}${STORE_PREFIX}/watch?prefix=${encodeURIComponent(options.prefix)}${next !== undefined ? `&from=${next}` : ''}`;
      try {
        const res = await this.client.fetch(url, { signal: controller.signal });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        // Before any event is delivered: events of a foreign store must never reach the caller.
        try {
          this.verifyCluster(base, res.headers.get(CLUSTER_ID_HEADER), res.headers.get(MEMBER_ID_HEADER));
        } catch (err) {
          controller.abort();
          throw err;
        }
        setConnected(true);
        delay = this.options.retryMinMs ?? 100;
        const decoder = new TextDecoder();
        let buf = '';
        for await (const chunk of res.body) {
          clearTimeout(idle);
          idle = setTimeout(() => controller?.abort(), idleMs);
          buf += decoder.decode(chunk as Uint8Array, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = JSON.parse(buf.slice(0, nl)) as Line;
            buf = buf.slice(nl + 1);
            if (stopped) return;
            if ('error' in line) {
              stop(new StoreError(line.error.code, line.error.message, line.error.compactRevision));
              return;
            }
            if ('start' in line) {
              this.verifyCluster(base, line.clusterId ?? res.headers.get(CLUSTER_ID_HEADER), line.memberId);
              next ??= line.start;
            } else if ('events' in line) {
              next = line.revision + 1;
              options.onEvents(line.events, line.revision);
            }
          }
        }
      } finally {
        clearTimeout(idle);
      }
    };

    const loop = async (): Promise<void> => {
      while (!stopped && !this.closed) {
        try {
          await once();
        } catch {
          // Connection refused, reset or idle: retry below.
        }
        if (stopped || this.closed) break;
        setConnected(false);
        this.rotate();
        await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random() / 2)));
        delay = Math.min(maxDelay, delay * 2);
      }
    };

    const handle = {
      startRevision: next ?? 0,
      close: () => stop(),
    };
    this.watches.add(handle);
    void loop();
    return handle;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.watches]) w.close();
    if (this.ownClient) await this.client.close();
  }
}
