// The Mesos state poller against fake masters on loopback addresses: leader following with the
// contacted port, falling through to the next master, keeping the last good state on failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MesosStatePoller, leaderHost, parseMasterEntry } from '../../src/cluster/index.js';
import { testLogger } from '../helpers/log.js';

interface FakeMaster {
  server: Server;
  port: number;
  hits: number;
  body: string;
  close(): Promise<void>;
}

async function fakeMaster(host: string, port: number, body: string): Promise<FakeMaster> {
  const fm: FakeMaster = {
    server: createServer((req, res) => {
      fm.hits++;
      if (req.url !== '/master/state') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(fm.body);
    }),
    port: 0,
    hits: 0,
    body,
    close: () => new Promise((r) => fm.server.close(() => r())),
  };
  await new Promise<void>((resolve, reject) => {
    fm.server.once('error', reject).listen(port, host, () => resolve());
  });
  fm.port = (fm.server.address() as AddressInfo).port;
  return fm;
}

const state = (leader: string, fw = 'marathon'): string =>
  JSON.stringify({ leader, slaves: [], frameworks: [{ name: fw, tasks: [] }] });

test('entries and leader pids parse', () => {
  assert.deepEqual(parseMasterEntry('10.0.0.1:5050'), {
    base: 'http://10.0.0.1:5050',
    host: '10.0.0.1',
    port: 5050,
  });
  assert.equal(parseMasterEntry('[fd00::1]:5051').host, 'fd00::1');
  assert.equal(parseMasterEntry('https://m1:443').base, 'https://m1');
  assert.equal(parseMasterEntry('m1').port, 5050);
  assert.throws(() => parseMasterEntry('http://'), /master "http:\/\/"/);
  assert.equal(leaderHost('master@10.1.2.3:5050'), '10.1.2.3');
  assert.equal(leaderHost('master@[fd00::2]:5050'), 'fd00::2');
  assert.equal(leaderHost(''), undefined);
  assert.equal(leaderHost('garbage'), undefined);
});

test('follows the leader once on the contacted port, falls through, keeps the last good state', async () => {
  // 127.0.0.2 is a follower naming 127.0.0.3 as leader; the leader listens on the same port.
  const follower = await fakeMaster('127.0.0.2', 0, '');
  const leader = await fakeMaster(
    '127.0.0.3',
    follower.port,
    state(`master@127.0.0.3:${follower.port}`, 'lead'),
  );
  follower.body = state(`master@127.0.0.3:${follower.port}`, 'follower');
  const dead = await fakeMaster('127.0.0.4', 0, '');
  await dead.close(); // nothing listens there any more
  const poller = new MesosStatePoller({
    masters: [`127.0.0.4:${dead.port}`, `127.0.0.2:${follower.port}`],
    refreshMs: 60_000,
    timeoutMs: 2_000,
    log: testLogger(),
  });
  const seen: string[] = [];
  poller.onState((s, meta) => seen.push(`${s.frameworks[0]!.name}@${meta.master}`));
  try {
    assert.equal(await poller.pollOnce(), true);
    assert.deepEqual(seen, [`lead@127.0.0.3:${follower.port}`]);
    assert.equal(follower.hits, 1);
    assert.equal(leader.hits, 1);

    // Garbage from every master: the old state stays, no listener call.
    follower.body = '{"not":"json"';
    leader.body = JSON.stringify({ leader: 5 });
    assert.equal(await poller.pollOnce(), false);
    assert.equal(seen.length, 1);
    assert.equal(poller.latest()?.state.frameworks[0]!.name, 'lead');

    // A state without a leader is refused too.
    follower.body = JSON.stringify({ slaves: [], frameworks: [] });
    assert.equal(await poller.pollOnce(), false);

    // Back to health: the follower now says it is the leader itself, so no second hop.
    follower.body = state(`master@127.0.0.2:${follower.port}`, 'self');
    const before = leader.hits;
    assert.equal(await poller.pollOnce(), true);
    assert.equal(leader.hits, before);
    assert.deepEqual(seen.at(-1), `self@127.0.0.2:${follower.port}`);
  } finally {
    await poller.stop();
    await follower.close();
    await leader.close();
  }
});

test('start polls immediately and then periodically; stop waits for the running load', async () => {
  const m = await fakeMaster('127.0.0.1', 0, '');
  m.body = state(`master@127.0.0.1:${m.port}`);
  const poller = new MesosStatePoller({ masters: [`127.0.0.1:${m.port}`], refreshMs: 50, log: testLogger() });
  let n = 0;
  poller.onState(() => n++);
  try {
    poller.start();
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(n >= 3, `expected several polls, got ${n}`);
    await poller.stop();
    const after = m.hits;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(m.hits, after, 'no poll after stop');
  } finally {
    await poller.stop();
    await m.close();
  }
});

test('an empty master list is refused', () => {
  assert.throws(() => new MesosStatePoller({ masters: [], refreshMs: 1000, log: testLogger() }), /masters/);
});
