// Talking to one upstream resolver without being poisoned (CoreDNS plugin/pkg/proxy is the
// model: each upstream owns its connections).
//
//   * Every forwarded query gets a fresh 16-bit ID from the crypto RNG (the client's ID is never
//     sent upstream; it is written back into the accepted reply).
//   * UDP goes out through a small pool of sockets per upstream, each connected to that upstream
//     and bound by the kernel to a random ephemeral port (Linux picks it with its CSPRNG). A
//     connected socket only ever receives datagrams from the upstream's address and port: the
//     kernel itself drops replies spoofed from anywhere else. A socket is retired after
//     `queriesPerSocket` queries (closed once its last query is done), so the source port keeps
//     changing; idle sockets are closed after `idleMs`.
//   * TCP uses a fresh connection per query (a random source port from the kernel).
//   * A reply is accepted only when it is a response carrying an ID we have in flight on that
//     socket and the same question (name case-insensitively, type, class). Anything else is
//     dropped, reported through `onReject` (counted as dcnet_dns_forward_rejected_total{reason})
//     and the query keeps waiting for the right reply until its timeout.
import { randomFillSync } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { upstreamKey, type Upstream } from './types.js';
import { FLAG } from './wire.js';

export class ExchangeError extends Error {
  constructor(
    readonly reason: 'timeout' | 'error' | 'closed',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Why a reply was not accepted: `source` (not from the upstream's address/port; normally the
 * kernel already drops these), `malformed` (shorter than a header, or not a response), `id` (no
 * query with that ID in flight), `late` (the ID of a query that already timed out), `question`
 * (the ID matches but the question does not).
 */
export type RejectReason = 'source' | 'malformed' | 'id' | 'late' | 'question';

// ---- random IDs ---------------------------------------------------------------------------

const randomPool = Buffer.allocUnsafe(4096);
let randomAt = randomPool.length;

/** A uniformly random 16-bit number from the crypto RNG (refilled in bulk: one syscall per 2048). */
export function randomId(): number {
  if (randomAt >= randomPool.length) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  const v = randomPool.readUInt16BE(randomAt);
  randomAt += 2;
  return v;
}

// ---- reply checks -------------------------------------------------------------------------

/**
 * True when `reply` is a response whose first question is `question` (wire form: uncompressed
 * name, type, class), the name compared case-insensitively. Label length octets are below 64 and
 * so never letters; type and class are compared exactly.
 */
export function sameQuestion(reply: Buffer, question: Buffer): boolean {
  const qlen = question.length;
  if (reply.length < 12 + qlen || reply.readUInt16BE(4) < 1) return false;
  const nameEnd = qlen - 4;
  for (let i = 0; i < qlen; i++) {
    let a = reply[12 + i]!;
    let b = question[i]!;
    if (a !== b && i < nameEnd) {
      if (a >= 0x41 && a <= 0x5a) a |= 0x20;
      if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    }
    if (a !== b) return false;
  }
  return true;
}

/** Copy of the client's query with `id` in place of the client's ID. */
function withId(query: Buffer, id: number): Buffer {
  const out = Buffer.from(query);
  out.writeUInt16BE(id, 0);
  return out;
}

// ---- UDP ----------------------------------------------------------------------------------

export interface UpstreamPoolOptions {
  /** Live UDP sockets per upstream (default 8): a query goes out on a random one. */
  readonly socketsPerUpstream?: number;
  /** Queries sent on one socket before it is retired (default 64). */
  readonly queriesPerSocket?: number;
  /** An unused socket is closed after this long (default 10,000 ms). */
  readonly idleMs?: number;
  /** Every reply that was not accepted (the forwarder counts them). */
  readonly onReject?: (reason: RejectReason, upstream: Upstream) => void;
}

interface Pending {
  readonly clientId: number;
  readonly question: Buffer;
  readonly resolve: (reply: Buffer) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** One connected UDP socket and the queries in flight on it. */
class PooledSocket {
  readonly pending = new Map<number, Pending>();
  /** IDs of queries that timed out: a reply carrying one is late, not forged. */
  readonly late = new Set<number>();
  /** Queries held back until the socket is connected. */
  private queue: (() => void)[] | undefined = [];
  private peer: { address: string; port: number } | undefined;
  sent = 0;
  lastUsed = Date.now();
  retired = false;
  closed = false;

  constructor(
    private readonly owner: UdpUpstream,
    readonly sock: UdpSocket,
  ) {}

  connected(): void {
    try {
      this.peer = this.sock.remoteAddress();
    } catch {
      /* closed meanwhile */
    }
    const q = this.queue ?? [];
    this.queue = undefined;
    for (const f of q) f();
  }

  /** True until the connect completed or failed. */
  get connecting(): boolean {
    return this.queue !== undefined;
  }

  /** Runs `f` once the socket is connected. */
  whenConnected(f: () => void): void {
    if (this.queue) this.queue.push(f);
    else f();
  }

  onMessage(msg: Buffer, rinfo: { address: string; port: number }): void {
    if (this.peer && (rinfo.port !== this.peer.port || rinfo.address !== this.peer.address)) {
      return this.owner.rejected('source');
    }
    if (msg.length < 12 || !(msg.readUInt16BE(2) & FLAG.QR)) return this.owner.rejected('malformed');
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    if (!p) return this.owner.rejected(this.late.has(id) ? 'late' : 'id');
    if (!sameQuestion(msg, p.question)) return this.owner.rejected('question');
    this.pending.delete(id);
    clearTimeout(p.timer);
    msg.writeUInt16BE(p.clientId, 0);
    p.resolve(msg);
    this.owner.settled(this);
  }

  /** Fails every query still waiting (the socket broke or the pool is closing). */
  failAll(e: Error): void {
    this.queue = undefined;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
  }
}

/** The UDP sockets to one upstream; see the file header. */
export class UdpUpstream {
  private readonly live: PooledSocket[] = [];
  private readonly all = new Set<PooledSocket>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly size: number;
  private readonly perSocket: number;
  private readonly idleMs: number;

  constructor(
    readonly upstream: Upstream,
    private readonly opts: UpstreamPoolOptions = {},
  ) {
    this.size = Math.max(1, opts.socketsPerUpstream ?? 8);
    this.perSocket = Math.max(1, opts.queriesPerSocket ?? 64);
    this.idleMs = opts.idleMs ?? 10_000;
  }

  /** Open sockets (live and draining). */
  get sockets(): number {
    return this.all.size;
  }

  /** Sends `query` with a fresh ID; resolves with the matching reply, carrying the client's ID. */
  query(query: Buffer, question: Buffer, timeoutMs: number): Promise<Buffer> {
    const s = this.pick();
    let id = randomId();
    while (s.pending.has(id)) id = randomId();
    s.sent++;
    s.lastUsed = Date.now();
    const key = upstreamKey(this.upstream);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        s.pending.delete(id);
        s.late.add(id);
        reject(new ExchangeError('timeout', `no reply from ${key} within ${timeoutMs} ms`));
        this.settled(s);
      }, timeoutMs);
      s.pending.set(id, { clientId: query.readUInt16BE(0), question, resolve, reject, timer });
      if (s.sent >= this.perSocket) this.retire(s);
      const out = withId(query, id);
      s.whenConnected(() => {
        if (s.closed || !s.pending.has(id)) return;
        s.sock.send(out, (err) => {
          if (!err) return;
          const p = s.pending.get(id);
          if (!p) return;
          s.pending.delete(id);
          clearTimeout(p.timer);
          p.reject(new ExchangeError('error', `${key}: ${err.message}`));
          this.settled(s);
        });
      });
    });
  }

  private pick(): PooledSocket {
    if (this.live.length < this.size) return this.open();
    return this.live[randomId() % this.live.length]!;
  }

  private open(): PooledSocket {
    const u = this.upstream;
    const sock = createSocket(isIPv6(u.host) ? 'udp6' : 'udp4');
    const s = new PooledSocket(this, sock);
    // Upstream sockets must not keep a stopping process alive.
    sock.unref();
    sock.on('message', (msg, rinfo) => s.onMessage(msg, rinfo));
    sock.on('error', (e) => {
      // ICMP errors (e.g. port unreachable) arrive as errors on a connected socket; they are easy
      // to forge, so they fail nothing: the queries wait for their timeout. A failed connect
      // (no route, bad address) fails the socket's queries at once.
      if (!s.connecting) return;
      s.failAll(new ExchangeError('error', `${upstreamKey(u)}: ${e.message}`));
      this.retire(s);
    });
    sock.connect(u.port, u.host, () => s.connected());
    this.live.push(s);
    this.all.add(s);
    this.sweeper ??= setInterval(() => this.sweep(), Math.max(100, this.idleMs / 2)).unref();
    return s;
  }

  private retire(s: PooledSocket): void {
    if (s.retired) return;
    s.retired = true;
    const i = this.live.indexOf(s);
    if (i >= 0) this.live.splice(i, 1);
    this.settled(s);
  }

  /** A query on `s` ended: close a retired socket once nothing is left on it. */
  settled(s: PooledSocket): void {
    if (s.retired && s.pending.size === 0) this.drop(s);
  }

  private drop(s: PooledSocket): void {
    s.close();
    this.all.delete(s);
    const i = this.live.indexOf(s);
    if (i >= 0) this.live.splice(i, 1);
    if (this.all.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private sweep(): void {
    const old = Date.now() - this.idleMs;
    for (const s of [...this.all]) {
      if (s.pending.size === 0 && s.lastUsed < old) {
        s.retired = true;
        this.drop(s);
      }
    }
  }

  rejected(reason: RejectReason): void {
    this.opts.onReject?.(reason, this.upstream);
  }

  close(): void {
    for (const s of [...this.all]) {
      s.failAll(new ExchangeError('closed', `${upstreamKey(this.upstream)}: forwarder closed`));
      s.retired = true;
      this.drop(s);
    }
  }
}

// ---- TCP ----------------------------------------------------------------------------------

/** One framed query over a fresh TCP connection, with a fresh ID; replies checked as over UDP. */
export function exchangeTcp(
  query: Buffer,
  question: Buffer,
  u: Upstream,
  timeoutMs: number,
  onReject?: (reason: RejectReason, upstream: Upstream) => void,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const id = randomId();
    const clientId = query.readUInt16BE(0);
    const sock = connect({ host: u.host, port: u.port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (err: Error | undefined, reply?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(
      () => done(new ExchangeError('timeout', `no reply from ${upstreamKey(u)} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on('error', (e) => done(new ExchangeError('error', `${upstreamKey(u)}: ${e.message}`)));
    sock.on('close', () => done(new ExchangeError('closed', `${upstreamKey(u)} closed the connection`)));
    sock.on('data', (chunk) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (!settled && buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + msg.length);
        if (msg.length < 12 || !(msg.readUInt16BE(2) & FLAG.QR)) onReject?.('malformed', u);
        else if (msg.readUInt16BE(0) !== id) onReject?.('id', u);
        else if (!sameQuestion(msg, question)) onReject?.('question', u);
        else {
          msg.writeUInt16BE(clientId, 0);
          done(undefined, msg);
        }
      }
    });
    const out = withId(query, id);
    const len = Buffer.allocUnsafe(2);
    len.writeUInt16BE(out.length, 0);
    sock.write(Buffer.concat([len, out]));
  });
}

// ---- per forwarder ------------------------------------------------------------------------

/** The upstreams one forwarder talks to, each with its own sockets (created on first use). */
export class UpstreamPool {
  private readonly byKey = new Map<string, UdpUpstream>();

  constructor(private readonly opts: UpstreamPoolOptions = {}) {}

  udp(u: Upstream): UdpUpstream {
    const key = upstreamKey(u);
    let x = this.byKey.get(key);
    if (!x) this.byKey.set(key, (x = new UdpUpstream(u, this.opts)));
    return x;
  }

  /** One checked exchange with `u` over `transport`; the reply carries the client's ID. */
  exchange(
    transport: 'udp' | 'tcp',
    query: Buffer,
    question: Buffer,
    u: Upstream,
    timeoutMs: number,
  ): Promise<Buffer> {
    return transport === 'tcp'
      ? exchangeTcp(query, question, u, timeoutMs, this.opts.onReject)
      : this.udp(u).query(query, question, timeoutMs);
  }

  close(): void {
    for (const x of this.byKey.values()) x.close();
    this.byKey.clear();
  }
}
