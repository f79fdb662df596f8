// UDP + TCP DNS listeners dispatching each query, by the longest zone suffix of its first question,
// to a handler. Bad input never stops the server: packets without a readable header are dropped,
// others get FORMERR; a throwing/rejecting handler gives SERVFAIL. Overload protection:
//   * a cap on forwarded queries in flight (`maxConcurrent`, handed to the forwarders through the
//     context): over it UDP queries are dropped and TCP connections closed (dcos-dns
//     handler_limit). Queries answered here (local zones, cache hits) never wait for a slot.
//   * TCP: open connections capped (in all and per client); each message must arrive whole within `tcpMessageMs` of its
//     first byte (the first message: of the connect), so a client trickling bytes loses its slot;
//     an idle connection is closed after `tcpIdleMs`.
//   * an optional per-client rate limit (`clientRateLimit`, token bucket per source address) on
//     every query: over it a UDP query is dropped (no answer to a possibly spoofed source, so
//     no reflection), a TCP query gets REFUSED. Off unless configured: the daemons set it.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server as TcpServer, type Socket as TcpSocket } from 'node:net';
import type { Registry } from 'prom-client';
import { ClientRateLimit, InFlightLimit, type ClientRateLimitOptions } from './limits.js';
import { DnsMetrics, dnsMetrics } from './metrics.js';
import type { DnsHandler, HandlerContext } from './types.js';
import {
  DEFAULT_MAX_UDP_PAYLOAD,
  MAX_TCP_MESSAGE,
  RCODE,
  errorReply,
  fqdn,
  optRecord,
  parseQuery,
  rcodeName,
  replyFor,
  truncateMessage,
  udpLimit,
} from './wire.js';

export interface ListenAddress {
  readonly host: string;
  /** 0 = any free port (the same one for UDP and TCP); see `DnsServer.addresses()`. */
  readonly port: number;
}

export interface DnsLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface DnsServerOptions {
  readonly listen: readonly ListenAddress[];
  /** Zone → handler; `.` is the default. A query no zone matches gets REFUSED. */
  readonly zones: Readonly<Record<string, DnsHandler>> | ReadonlyMap<string, DnsHandler>;
  /**
   * Forwarded queries in flight at most (default 1024), shared by the forwarders without a limit
   * of their own; over it UDP is dropped, TCP closed. Local answers are never limited by it.
   */
  readonly maxConcurrent?: number;
  /** Open TCP connections at most (default 1024); more are closed at once. */
  readonly maxTcpConnections?: number;
  /** Open TCP connections per client address at most (default: no cap of its own). */
  readonly maxTcpPerClient?: number;
  /** A TCP connection idle this long is closed (default 10,000 ms). */
  readonly tcpIdleMs?: number;
  /**
   * A TCP message must arrive whole within this long of its first byte, the first message within
   * this long of the connect (default 3000 ms); else the connection is closed (`tcp_deadline`).
   */
  readonly tcpMessageMs?: number;
  /** Queries per client address (token bucket); default none. */
  readonly clientRateLimit?: ClientRateLimitOptions | ClientRateLimit;
  /** Cap on the client's EDNS0 UDP size (default 4096). */
  readonly maxUdpPayload?: number;
  /** UDP socket receive buffer (default 1 MiB, as dcos-dns). */
  readonly udpRecvBufferSize?: number;
  readonly registry?: Registry;
  readonly metrics?: DnsMetrics;
  readonly logger?: DnsLogger;
}

interface Listener {
  readonly host: string;
  readonly port: number;
  readonly udp: UdpSocket;
  readonly tcp: TcpServer;
}

const noop = (): void => {};
/** Unsent reply octets buffered for one TCP client before it is disconnected. */
const MAX_TCP_BACKLOG = 1 << 20;

export class DnsServer {
  readonly metrics: DnsMetrics;
  private zones = new Map<string, DnsHandler>();
  private listeners: Listener[] = [];
  private readonly tcpConns = new Set<TcpSocket>();
  private inflight = 0;
  /** Slots for forwarded queries (`maxConcurrent`). */
  readonly forwardLimit: InFlightLimit;
  private readonly maxTcpConnections: number;
  private readonly maxTcpPerClient: number;
  private readonly tcpPerClient = new Map<string, number>();
  private readonly tcpIdleMs: number;
  private readonly tcpMessageMs: number;
  private readonly rateLimit: ClientRateLimit | undefined;
  private readonly maxUdpPayload: number;
  private readonly recvBuf: number;
  private readonly log: DnsLogger | undefined;

  constructor(private readonly opts: DnsServerOptions) {
    this.metrics = opts.metrics ?? dnsMetrics(opts.registry);
    this.forwardLimit = new InFlightLimit(opts.maxConcurrent ?? 1024);
    this.maxTcpConnections = opts.maxTcpConnections ?? 1024;
    this.maxTcpPerClient = opts.maxTcpPerClient ?? Infinity;
    this.tcpIdleMs = opts.tcpIdleMs ?? 10_000;
    this.tcpMessageMs = opts.tcpMessageMs ?? 3000;
    const rl = opts.clientRateLimit;
    this.rateLimit = rl === undefined || rl instanceof ClientRateLimit ? rl : new ClientRateLimit(rl);
    this.maxUdpPayload = opts.maxUdpPayload ?? DEFAULT_MAX_UDP_PAYLOAD;
    this.recvBuf = opts.udpRecvBufferSize ?? 1 << 20;
    this.log = opts.logger;
    this.setZones(opts.zones);
  }

  /** Replaces the zone → handler table (atomically). */
  setZones(zones: DnsServerOptions['zones']): void {
    const entries = zones instanceof Map ? [...zones] : Object.entries(zones);
    this.zones = new Map(entries.map(([z, h]) => [fqdn(z), h]));
  }

  /** Bound addresses, in the order of `listen` (ports resolved when 0 was asked). */
  addresses(): ListenAddress[] {
    return this.listeners.map((l) => ({ host: l.host, port: l.port }));
  }

  /** Asynchronous handlers running (forwarded queries and any other handler that waits). */
  get inFlight(): number {
    return this.inflight;
  }

  /** Forwarding slots in use. */
  get forwarding(): number {
    return this.forwardLimit.inUse;
  }

  async start(): Promise<void> {
    try {
      for (const l of this.opts.listen) this.listeners.push(await this.bind(l));
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    const ls = this.listeners;
    this.listeners = [];
    for (const c of this.tcpConns) c.destroy();
    this.tcpConns.clear();
    await Promise.all(
      ls.flatMap((l) => [
        new Promise<void>((r) => l.udp.close(() => r())),
        new Promise<void>((r) => l.tcp.close(() => r())),
      ]),
    );
  }

  private async bind(l: ListenAddress): Promise<Listener> {
    for (let attempt = 0; ; attempt++) {
      const udp = createSocket({
        type: l.host.includes(':') ? 'udp6' : 'udp4',
        recvBufferSize: this.recvBuf,
      });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(l.port, l.host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      const port = udp.address().port;
      const tcp = createServer((s) => this.onTcp(s));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ host: l.host, port, backlog: 1024 }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        udp.close();
        // Port 0: the UDP port we got may be taken for TCP; try another one.
        if (l.port === 0 && (e as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 50) continue;
        throw e;
      }
      udp.on('error', (e) => this.log?.warn({ err: e.message, host: l.host }, 'dns udp socket error'));
      tcp.on('error', (e) => this.log?.warn({ err: e.message, host: l.host }, 'dns tcp listener error'));
      const limit = this.rateLimit;
      udp.on('message', (msg, rinfo) => {
        if (limit && !limit.allow(rinfo.address)) {
          this.metrics.drop('ratelimit');
          return;
        }
        this.onQuery(
          msg,
          'udp',
          rinfo.address,
          rinfo.port,
          (reply) => {
            // The socket may have been closed while an asynchronous handler ran.
            try {
              udp.send(reply, rinfo.port, rinfo.address);
            } catch {
              /* closed */
            }
          },
          () => this.metrics.drop('overload'),
        );
      });
      return { host: l.host, port, udp, tcp };
    }
  }

  private onTcp(sock: TcpSocket): void {
    if (this.tcpConns.size >= this.maxTcpConnections || this.listeners.length === 0) {
      this.metrics.drop('tcp_overload');
      sock.destroy();
      return;
    }
    // One client cannot hold every connection slot (each for up to tcpMessageMs without a query).
    const client = sock.remoteAddress ?? '';
    const held = this.tcpPerClient.get(client) ?? 0;
    if (held >= this.maxTcpPerClient) {
      this.metrics.drop('tcp_client_overload');
      sock.destroy();
      return;
    }
    this.tcpPerClient.set(client, held + 1);
    this.tcpConns.add(sock);
    sock.setNoDelay(true);
    sock.setTimeout(this.tcpIdleMs, () => sock.destroy());
    sock.on('error', noop);
    let buf: Buffer = Buffer.alloc(0);
    // Message deadline: `started` is when the message being read began (the connect for the
    // first); one timer per connection, re-armed for the remainder rather than per chunk.
    const messageMs = this.tcpMessageMs;
    const limit = this.rateLimit;
    let started = Date.now();
    let awaiting = true;
    let deadline: NodeJS.Timeout | undefined;
    const check = (): void => {
      deadline = undefined;
      if (sock.destroyed || !awaiting) return;
      const left = started + messageMs - Date.now();
      if (left > 0) {
        deadline = setTimeout(check, left);
        return;
      }
      this.metrics.drop('tcp_deadline');
      sock.destroy();
    };
    deadline = setTimeout(check, messageMs);
    sock.on('close', () => {
      clearTimeout(deadline);
      this.tcpConns.delete(sock);
      const n = (this.tcpPerClient.get(client) ?? 1) - 1;
      if (n > 0) this.tcpPerClient.set(client, n);
      else this.tcpPerClient.delete(client);
    });
    const addr = sock.remoteAddress ?? '';
    const port = sock.remotePort ?? 0;
    const reply = (r: Buffer): void => {
      if (sock.destroyed || !sock.writable) return;
      if (sock.writableLength > MAX_TCP_BACKLOG) {
        // A client that sends but never reads: stop buffering for it.
        this.metrics.drop('tcp_backlog');
        sock.destroy();
        return;
      }
      const len = Buffer.allocUnsafe(2);
      len.writeUInt16BE(r.length, 0);
      sock.write(Buffer.concat([len, r]));
    };
    const overload = (): void => {
      this.metrics.drop('overload');
      sock.destroy();
    };
    sock.on('data', (chunk: Buffer) => {
      if (buf.length === 0 && !awaiting) {
        started = Date.now();
        awaiting = true;
      }
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && !sock.destroyed) {
        const len = buf.readUInt16BE(0);
        if (len < 12) {
          // Not even a header: nothing sensible to answer on this stream.
          this.metrics.drop('malformed');
          sock.destroy();
          return;
        }
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        // The next message (if any bytes of it are here) starts now.
        started = Date.now();
        if (limit && !limit.allow(addr)) {
          // Not spoofable over TCP: tell the client.
          this.metrics.drop('ratelimit');
          reply(errorReply(msg.readUInt16BE(0), msg.readUInt16BE(2), RCODE.REFUSED));
          continue;
        }
        this.onQuery(msg, 'tcp', addr, port, reply, overload);
      }
      awaiting = buf.length > 0;
      if (awaiting && !deadline && !sock.destroyed) deadline = setTimeout(check, messageMs);
    });
  }

  private onQuery(
    buf: Buffer,
    transport: 'udp' | 'tcp',
    remoteAddress: string,
    remotePort: number,
    send: (b: Buffer) => void,
    overload: () => void,
  ): void {
    const parsed = parseQuery(buf);
    if (parsed === undefined) {
      this.metrics.drop('malformed');
      return;
    }
    if (!parsed.ok) {
      if (parsed.rcode === RCODE.FORMERR) this.metrics.malformed();
      this.metrics.request('-', rcodeName(parsed.rcode));
      send(errorReply(parsed.id, parsed.flags, parsed.rcode, parsed.question));
      return;
    }
    const q = parsed.query;
    if (q.edns && q.edns.version > 0) {
      // RFC 6891 §6.1.3: BADVERS (extended rcode 16 = upper bits 1, header rcode 0).
      const head = replyFor(q, RCODE.NOERROR);
      head.writeUInt16BE(1, 10);
      this.metrics.request('-', 'BADVERS');
      send(Buffer.concat([head, optRecord(this.maxUdpPayload, 1)]));
      return;
    }
    let zone = q.lname;
    let handler: DnsHandler | undefined;
    const zones = this.zones;
    for (;;) {
      handler = zones.get(zone);
      if (handler || zone === '.') break;
      const i = zone.indexOf('.');
      zone = i < 0 || i === zone.length - 1 ? '.' : zone.slice(i + 1);
    }
    if (!handler) {
      this.metrics.request('-', 'REFUSED');
      send(replyFor(q, RCODE.REFUSED));
      return;
    }
    const maxUdpSize = transport === 'tcp' ? MAX_TCP_MESSAGE : udpLimit(q, this.maxUdpPayload);
    const ctx: HandlerContext = {
      transport,
      remoteAddress,
      remotePort,
      maxUdpSize,
      zone,
      metrics: this.metrics,
      forwardLimit: this.forwardLimit,
      overload,
    };
    const finish = (r: Buffer | undefined): void => {
      if (!r) return;
      if (r.length > maxUdpSize) r = truncateMessage(r, maxUdpSize);
      this.metrics.request(ctx.zone, rcodeName(r[3]! & 0xf));
      send(r);
    };
    const failed = (e: unknown): void => {
      this.log?.error({ err: (e as Error)?.message, name: q.name, qtype: q.qtype }, 'dns handler failed');
      finish(replyFor(q, RCODE.SERVFAIL));
    };
    let r: ReturnType<DnsHandler>;
    try {
      r = handler(buf, q, ctx);
    } catch (e) {
      failed(e);
      return;
    }
    if (r === undefined || r instanceof Uint8Array) {
      finish(r);
      return;
    }
    this.inflight++;
    r.then(finish, failed).finally(() => this.inflight--);
  }
}

export interface RunningDnsServer {
  readonly server: DnsServer;
  /** Bound ports, in the order of `listen`. */
  readonly ports: number[];
  readonly addresses: ListenAddress[];
  close(): Promise<void>;
}

/** Starts a server in this process; `close()` stops every socket it opened. */
export async function startDnsServer(opts: DnsServerOptions): Promise<RunningDnsServer> {
  const server = new DnsServer(opts);
  await server.start();
  const addresses = server.addresses();
  return { server, addresses, ports: addresses.map((a) => a.port), close: () => server.close() };
}
