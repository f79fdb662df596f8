// Fuzz: 100,000+ random and mutated packets (truncation, count fields, compression pointers
// including loops, over-long names, reserved label types, flipped bits, QR set) sent to a server
// running in its own process over UDP, plus framed garbage over TCP. Afterwards the process is
// alive and still answers correctly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after } from 'node:test';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { decode, queryBytes, rcodeOf, tcpAsk, udpAsk } from '../helpers/dns.js';

const PACKETS = 100_000;
const TCP_PACKETS = 5_000;

/** Small deterministic PRNG (mulberry32) so that a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = [
  'ready.spartan',
  'svc3.marathon.l4lb.thisdcos.directory',
  'alias.l4lb.thisdcos.directory',
  'leader.mesos',
  '_leader._tcp.mesos',
  'x.dclb.thisdcos.global',
  'nope.spartan',
];
const TYPES = ['A', 'AAAA', 'SRV', 'ANY', 'TXT', 'CNAME', 'SOA', 'NS'];

function mutant(rnd: () => number): Buffer {
  const int = (n: number): number => Math.floor(rnd() * n);
  if (rnd() < 0.1) {
    const b = Buffer.alloc(int(600));
    for (let i = 0; i < b.length; i++) b[i] = int(256);
    return b;
  }
  const q = Buffer.from(
    queryBytes(NAMES[int(NAMES.length)]!, TYPES[int(TYPES.length)]!, {
      id: int(65536),
      ...(rnd() < 0.3 ? { edns: 512 + int(4000) } : {}),
    }),
  );
  switch (int(9)) {
    case 0:
      return q.subarray(0, int(q.length));
    case 1:
      q.writeUInt16BE(int(65536), 4 + 2 * int(4));
      return q;
    case 2: {
      // compression pointer somewhere in the name, to anywhere (self, forward, backward)
      const at = 12 + int(Math.max(1, q.length - 16));
      q.writeUInt16BE(0xc000 | int(q.length + 20), at);
      return q;
    }
    case 3: {
      // two pointers pointing at each other
      q.writeUInt16BE(0xc00e, 12);
      q.writeUInt16BE(0xc00c, 14);
      return q;
    }
    case 4: {
      // a name longer than 255 octets (or many short labels)
      const labels: Buffer[] = [];
      const n = 3 + int(200);
      const len = 1 + int(63);
      for (let i = 0; i < n; i++) labels.push(Buffer.from([len]), Buffer.alloc(len, 0x61 + int(26)));
      return Buffer.concat([q.subarray(0, 12), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
    }
    case 5: {
      for (let i = 0, n = 1 + int(5); i < n; i++) q[int(q.length)] = int(256);
      return q;
    }
    case 6:
      q[12] = 0x40 | int(64); // reserved label types 01/10
      if (rnd() < 0.5) q[12] |= 0x80;
      return q;
    case 7:
      return Buffer.concat([q, Buffer.alloc(int(100), int(256))]);
    default:
      q[2] = q[2]! | 0x80; // a response: must be ignored
      return q;
  }
}

const child = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'test', 'helpers', 'dns-child-server.js')], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
after(() => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
let out = '';
child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
const lines = async (n: number): Promise<string[]> => {
  for (let i = 0; i < 200 && out.split('\n').filter(Boolean).length < n; i++)
    await new Promise((r) => setTimeout(r, 50));
  return out.split('\n').filter(Boolean);
};

test(`fuzz: ${PACKETS} UDP + ${TCP_PACKETS} TCP bad packets; the server survives and still answers`, async (ctx) => {
  const port = (JSON.parse((await lines(1))[0]!) as { port: number }).port;
  const rnd = prng(20261122);
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  let replies = 0;
  sock.on('message', () => replies++);
  for (let i = 0; i < PACKETS; i++) {
    sock.send(mutant(rnd), port, '127.0.0.1');
    if (i % 250 === 249) await new Promise((r) => setTimeout(r, 4));
  }
  // TCP: streams of framed mutants, some with lying frame lengths.
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      const c = connect({ host: '127.0.0.1', port });
      c.on('error', () => {});
      c.on('data', () => {});
      await new Promise((r) => c.once('connect', r));
      for (let i = 0; i < TCP_PACKETS / 10 && !c.destroyed; i++) {
        const m = mutant(rnd);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(rnd() < 0.05 ? Math.floor(rnd() * 65536) : m.length);
        c.write(Buffer.concat([len, m]));
      }
      await new Promise((r) => setTimeout(r, 100));
      c.destroy();
    }),
  );
  await new Promise((r) => setTimeout(r, 500));
  sock.close();
  assert.equal(child.exitCode, null, 'server process alive');
  assert.ok(replies > PACKETS / 4, `the server answered ${replies} UDP packets`);
  // Still correct over UDP and TCP.
  const a = decode(await udpAsk(port, queryBytes('svc3.marathon.l4lb.thisdcos.directory', 'A', { id: 7 })));
  assert.equal(a.id, 7);
  assert.equal(String((a.answers![0] as { data: unknown }).data), '10.0.0.4');
  const m = decode(await udpAsk(port, queryBytes('leader.mesos', 'A')));
  assert.equal(String((m.answers![0] as { data: unknown }).data), '192.0.2.1');
  const [t] = await tcpAsk(port, [queryBytes('ready.spartan', 'A')]);
  assert.equal(rcodeOf(decode(t!)), 'NOERROR');
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  assert.equal(child.exitCode, 0);
  const totals = JSON.parse((await lines(2))[1]!) as { requests: number; drops: number; malformed: number };
  ctx.diagnostic(`udp replies ${replies}; server totals ${JSON.stringify(totals)}`);
  assert.ok(totals.malformed > PACKETS / 10, `malformed packets counted: ${totals.malformed}`);
  assert.ok(totals.requests + totals.drops > PACKETS / 2, JSON.stringify(totals));
});
