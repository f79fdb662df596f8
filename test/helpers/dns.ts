// DNS test helpers: build queries with dns-packet, ask a handler or a server (UDP/TCP on
// 127.0.0.1), run dig, and start tiny fake upstream resolvers on loopback.
import dnsPacket from 'dns-packet';
import { createSocket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after } from 'node:test';
import { parseQuery, type DnsQuery } from '../../src/dns/server/index.js';

export type Packet = dnsPacket.Packet;

export interface QueryOptions {
  id?: number;
  rd?: boolean;
  /** EDNS0 UDP payload size to advertise (adds an OPT). */
  edns?: number;
}

export function queryBytes(name: string, type: string, o: QueryOptions = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: o.id ?? 4242,
    flags: o.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ name: name.replace(/\.$/, ''), type: type as dnsPacket.RecordType, class: 'IN' }],
    additionals: o.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: o.edns } as dnsPacket.Answer] : [],
  });
}

/**
 * Like queryBytes but keeps the name's case exactly and allows wildcards (dns-packet does too;
 * this only exists to make the intent explicit).
 */
export function parsed(bytes: Buffer): DnsQuery {
  const r = parseQuery(bytes);
  if (!r || !r.ok) throw new Error('test query did not parse');
  return r.query;
}

export const decode = (b: Buffer): Packet => dnsPacket.decode(b);

/** The reply's rcode text (dns-packet puts it in `rcode`). */
export const rcodeOf = (p: Packet): string => (p as unknown as { rcode: string }).rcode;

export const flagsOf = (p: Packet) => ({
  aa: !!((p.flags ?? 0) & 0x0400),
  tc: !!((p.flags ?? 0) & 0x0200),
  rd: !!((p.flags ?? 0) & 0x0100),
  ra: !!((p.flags ?? 0) & 0x0080),
  qr: p.type === 'response',
});

export function udpAsk(port: number, bytes: Buffer, timeoutMs = 2000, host = '127.0.0.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('udp timeout'));
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(bytes, port, host);
  });
}

export function tcpAsk(port: number, queries: Buffer[], timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    const out: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`tcp timeout after ${out.length} replies`));
    }, timeoutMs);
    sock.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    sock.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length === queries.length) {
        clearTimeout(t);
        sock.end();
        resolve(out);
      }
    });
    for (const q of queries) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      sock.write(Buffer.concat([len, q]));
    }
  });
}

const execFileP = promisify(execFile);

export async function dig(port: number, args: string[], host = '127.0.0.1'): Promise<string> {
  const { stdout } = await execFileP('dig', [`@${host}`, '-p', String(port), '+tries=1', '+time=3', ...args]);
  return stdout;
}

export interface FakeUpstream {
  readonly port: number;
  /** Queries seen (over UDP and TCP). */
  readonly seen: {
    transport: 'udp' | 'tcp';
    name: string;
    type: string;
    id: number;
    /** The querier's source port. */
    port: number;
  }[];
  close(): Promise<void>;
}

/**
 * A tiny resolver on `host` (default 127.0.0.1; any 127/8 address works) with UDP and TCP on the
 * same port. `answer` returns the reply packet for a query, or undefined to stay silent
 * (simulating a dead upstream).
 */
export async function fakeUpstream(
  answer: (q: Packet, transport: 'udp' | 'tcp') => Partial<Packet> | undefined,
  delayMs = 0,
  host = '127.0.0.1',
): Promise<FakeUpstream> {
  const seen: FakeUpstream['seen'] = [];
  let closed = false;
  const respond = (
    bytes: Buffer,
    transport: 'udp' | 'tcp',
    from: number,
    send: (b: Buffer) => void,
  ): void => {
    let q: Packet;
    try {
      q = dnsPacket.decode(bytes);
    } catch {
      return;
    }
    const qq = q.questions?.[0];
    seen.push({ transport, name: qq?.name ?? '', type: qq?.type ?? '', id: q.id ?? 0, port: from });
    const r = answer(q, transport);
    if (!r) return;
    const out = dnsPacket.encode({
      id: q.id,
      type: 'response',
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: q.questions,
      ...r,
    } as Packet);
    setTimeout(() => {
      if (!closed) send(out);
    }, delayMs);
  };
  for (let attempt = 0; ; attempt++) {
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, host, r));
    const port = udp.address().port;
    const tcp: Server = createServer((s) => {
      let buf = Buffer.alloc(0);
      s.on('error', () => {});
      s.on('data', (c) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          respond(m, 'tcp', s.remotePort ?? 0, (b) => {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(b.length);
            if (!s.destroyed) s.write(Buffer.concat([len, b]));
          });
        }
      });
    });
    const ok = await new Promise<boolean>((r) => {
      tcp.once('error', () => r(false));
      tcp.listen(port, host, () => r(true));
    });
    if (!ok) {
      udp.close();
      if (attempt < 20) continue;
      throw new Error('no free port for the fake upstream');
    }
    udp.on('message', (m, rinfo) =>
      respond(m, 'udp', rinfo.port, (b) => udp.send(b, rinfo.port, rinfo.address)),
    );
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
      ]);
    };
    after(close);
    return { port, seen, close };
  }
}
