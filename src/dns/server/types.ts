// The one handler interface every DNS zone (authoritative responder, forwarder, router) implements.
import type { InFlightLimit } from './limits.js';
import type { DnsMetrics } from './metrics.js';
import type { DnsQuery } from './wire.js';

export interface HandlerContext {
  readonly transport: 'udp' | 'tcp';
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Over UDP: the client's EDNS0 payload size (capped by the server) or 512. Over TCP: 65535. */
  readonly maxUdpSize: number;
  /** Metric label for this query; the server sets the zone it dispatched to, a router may refine it. */
  zone: string;
  /** The server's counters: handlers without metrics of their own count failures here. */
  readonly metrics?: DnsMetrics;
  /** The server's slots for forwarded queries: a handler that waits on an upstream takes one. */
  readonly forwardLimit?: InFlightLimit;
  /** Called by a handler that is over its limit: counts the drop; over TCP closes the connection. */
  readonly overload?: () => void;
}

/** Answers one query: the reply bytes, or undefined to send nothing. */
export type DnsHandler = (
  query: Buffer,
  msg: DnsQuery,
  ctx: HandlerContext,
) => Promise<Buffer | undefined> | Buffer | undefined;

export interface Upstream {
  readonly host: string;
  readonly port: number;
}

export const upstreamKey = (u: Upstream): string =>
  u.host.includes(':') ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`;
