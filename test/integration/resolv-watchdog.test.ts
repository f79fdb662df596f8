// ResolvConfWatchdog against a real file and a real UDP resolver on loopback (a fake that answers
// ready.spartan while `up`): the original saved once and never replaced, both switches, a restart
// that finds its own file, the fallback on close, no fallback without upstreams, and a directory
// it cannot write that does not stop it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import { parseResolvConf, ResolvConfWatchdog } from '../../src/dns/dcos/index.js';
import { eventually } from '../helpers/eventually.js';
import { tempDir } from '../helpers/tmp.js';

const LOCAL = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];

async function fakeSpartan(): Promise<{ port: number; up: boolean; sock: Socket }> {
  const sock = createSocket('udp4');
  const state = { port: 0, up: true, sock };
  sock.on('message', (msg, rinfo) => {
    if (!state.up) return;
    const q = dnsPacket.decode(msg);
    const answer = dnsPacket.encode({
      type: 'response',
      id: q.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: q.questions ?? [],
      answers: [{ type: 'A', name: 'ready.spartan', ttl: 5, data: '127.0.0.1' }],
    });
    sock.send(answer, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  state.port = sock.address().port;
  return state;
}

function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { log, lines };
}

test('switches both ways, saves the original once, falls back on close', async (t) => {
  const dir = await tempDir('resolv');
  const path = join(dir, 'resolv.conf');
  const original = 'search corp.example\noptions ndots:2\nnameserver 192.0.2.53\nnameserver 198.51.100.2\n';
  await writeFile(path, original);
  const dns = await fakeSpartan();
  t.after(() => dns.sock.close());
  const { log, lines } = capture();
  const make = () =>
    new ResolvConfWatchdog({
      log,
      path,
      local: LOCAL,
      probe: { host: '127.0.0.1', port: dns.port },
      intervalMs: 100,
      timeoutMs: 80,
    });
  const w = make();
  await w.prepare();
  // The node DNS address in the original is not an upstream (it would be the DNS that failed).
  assert.deepEqual(w.upstreams(), ['192.0.2.53']);
  await w.start();
  t.after(() => w.close());
  assert.equal(await readFile(`${path}.dcnet-orig`, 'utf8'), original);
  const read = async () => parseResolvConf(await readFile(path, 'utf8'));
  assert.deepEqual((await read()).nameservers, LOCAL);
  assert.deepEqual((await read()).kept, ['search corp.example', 'options ndots:2']);
  assert.equal(w.currentMode, 'local');

  dns.up = false;
  await eventually(async () => assert.deepEqual((await read()).nameservers, ['192.0.2.53']), 5000, 20);
  assert.equal(w.currentMode, 'upstream');
  assert.deepEqual((await read()).kept, ['search corp.example', 'options ndots:2']);
  dns.up = true;
  await eventually(async () => assert.deepEqual((await read()).nameservers, LOCAL), 5000, 20);
  const switches = lines.filter((l) => /^resolv\.conf switched/.test(String(l.msg)));
  assert.deepEqual(
    switches.map((l) => [l.from, l.to]),
    [
      ['unmanaged', 'local'],
      ['local', 'upstream'],
      ['upstream', 'local'],
    ],
  );

  // A restarted agent finds its own file: the original stays as it was, the upstreams too.
  const again = make();
  await again.prepare();
  assert.equal(await readFile(`${path}.dcnet-orig`, 'utf8'), original);
  assert.deepEqual(again.upstreams(), ['192.0.2.53']);

  await w.close();
  assert.deepEqual((await read()).nameservers, ['192.0.2.53']);
  // No temporary files left beside it.
  assert.deepEqual((await readdir(dir)).sort(), ['resolv.conf', 'resolv.conf.dcnet-orig']);
});

test('without an upstream the file stays on the node DNS and says why', async (t) => {
  const dir = await tempDir('resolv-noup');
  const path = join(dir, 'resolv.conf');
  await writeFile(path, 'nameserver 198.51.100.1\n');
  const dns = await fakeSpartan();
  t.after(() => dns.sock.close());
  dns.up = false;
  const { log, lines } = capture();
  const w = new ResolvConfWatchdog({
    log,
    path,
    local: LOCAL,
    probe: { host: '127.0.0.1', port: dns.port },
    intervalMs: 50,
    timeoutMs: 40,
  });
  await w.prepare();
  await w.start();
  await eventually(async () =>
    assert.ok(lines.some((l) => /no upstream to fall back to/.test(String(l.msg)))),
  );
  await w.close();
  assert.deepEqual(parseResolvConf(await readFile(path, 'utf8')).nameservers, LOCAL);
});

test('given upstreams win over the original; a file it cannot write does not stop it', async (t) => {
  const dir = await tempDir('resolv-ro');
  const path = join(dir, 'resolv.conf');
  await writeFile(path, 'nameserver 192.0.2.53\n');
  const { log, lines } = capture();
  const w = new ResolvConfWatchdog({
    log,
    path,
    local: LOCAL,
    upstreams: ['203.0.113.9', '198.51.100.1'],
    probe: { host: '127.0.0.1', port: 9 },
    intervalMs: 1000,
    timeoutMs: 50,
  });
  await w.prepare();
  assert.deepEqual(w.upstreams(), ['203.0.113.9']);
  // A resolv.conf whose directory is gone: the write fails, the watchdog logs it and goes on.
  const lost = new ResolvConfWatchdog({
    log,
    path: join(dir, 'gone', 'resolv.conf'),
    local: LOCAL,
    probe: { host: '127.0.0.1', port: 9 },
    intervalMs: 1000,
    timeoutMs: 50,
  });
  await lost.prepare();
  await lost.start();
  t.after(() => lost.close());
  assert.ok(lines.some((l) => /could not write/.test(String(l.msg))));
  assert.equal(lost.currentMode, undefined);
});
