// The VIP data plane on the real kernel, in a private network namespace: full load, element
// increments, drift repair from the read-back, conntrack flush of a departed backend, rejection of
// unserved VIPs, UDP and client-IP affinity. Backends are Node servers inside the namespace.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { run } from '../../src/kernel/raw.js';
import {
  L4lbReconciler,
  parseVipTable,
  type ParsedVipTable,
  type SyncResult,
  type Vip,
} from '../../src/l4lb/index.js';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';
import { testLogger } from '../helpers/log.js';

const NS = `dcl4i${randomBytes(3).toString('hex')}`;
const SELF = '10.77.0.1';
const BACKENDS = ['10.78.1.2', '10.78.2.2', '10.78.3.2'];
let server: ChildProcess | undefined;
let reconciler: L4lbReconciler;
const synced: SyncResult[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SERVER = String.raw`
const http = require('http'), dgram = require('dgram');
for (const ip of JSON.parse(process.argv[1])) {
  http.createServer((q, s) => s.end(ip + '\n')).listen(8080, ip);
  const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(ip + '\n', r.port, r.address)); u.bind(5353, ip);
}
setTimeout(() => console.log('ready'), 200);
`;

const ns = (cmd: string, args: string[], timeoutMs = 10_000) => run(cmd, args, { netns: NS, timeoutMs });
const curl = async (url: string): Promise<string> => {
  try {
    return (await ns('curl', ['-s', '-m', '2', url])).stdout.trim();
  } catch {
    return 'FAIL';
  }
};
async function spread(url: string, n: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const who = await curl(url);
    out.set(who, (out.get(who) ?? 0) + 1);
  }
  return out;
}

const vip = (backends: readonly string[], extra: Partial<Vip> = {}): Vip => ({
  protocol: 'tcp',
  ip: '11.0.0.5',
  port: 80,
  family: 4,
  name: { label: '/web', framework: 'marathon' },
  backends: backends.map((ip) => ({ ip, port: 8080, weight: 2, agent: '10.77.0.9', task: `t-${ip}` })),
  ...extra,
});
/** Parsed as the agent reads the store entries. */
const table = (...vips: Vip[]): ParsedVipTable => parseVipTable({ vips });
const sync = async (t: ParsedVipTable, verify = false): Promise<SyncResult> => {
  const n = synced.length;
  await reconciler.request(t, verify);
  assert.equal(reconciler.error, undefined);
  assert.equal(synced.length, n + 1);
  return synced[n]!;
};

before(async () => {
  if (NEEDS_ROOT) return;
  await run('ip', ['netns', 'add', NS]);
  await ns('ip', ['link', 'set', 'lo', 'up']);
  for (const b of BACKENDS) await ns('ip', ['addr', 'add', `${b}/32`, 'dev', 'lo']);
  await ns('ip', ['link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
  await ns('ip', ['link', 'set', 'up0', 'up']);
  await ns('ip', ['link', 'set', 'up1', 'up']);
  await ns('ip', ['addr', 'add', `${SELF}/24`, 'dev', 'up0']);
  server = spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', SERVER, JSON.stringify(BACKENDS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => server!.stdout!.once('data', () => resolve()));
  reconciler = new L4lbReconciler({
    selfIp: SELF,
    log: testLogger(),
    kernel: { netns: NS },
    onSynced: (r) => synced.push(r),
  });
});

after(async () => {
  if (NEEDS_ROOT) return;
  server?.kill('SIGKILL');
  await run('ip', ['netns', 'del', NS]).catch(() => {});
});

test(
  'full load: the VIP balances over every backend from the node itself',
  { skip: NEEDS_ROOT },
  async () => {
    const t = table(vip(BACKENDS));
    assert.equal(reconciler.programmedTable, undefined);
    const r = await sync(t);
    assert.equal(r.kind, 'full');
    assert.equal(reconciler.programmedTable, t, 'what DNS may name now');
    const seen = await spread('http://11.0.0.5/', 30);
    assert.equal(seen.get('FAIL'), undefined, JSON.stringify([...seen]));
    assert.deepEqual([...seen.keys()].sort(), BACKENDS);
    const { stdout } = await ns('ip', ['route', 'show', 'proto', '98']);
    assert.match(stdout, /^11\.0\.0\.0\/8 dev up0 .*src 10\.77\.0\.1/m);
  },
);

test('unserved VIP ports and VIPs without backends are refused at once', { skip: NEEDS_ROOT }, async () => {
  await sync(table(vip(BACKENDS), vip([], { ip: '192.0.2.50', name: undefined })));
  for (const url of ['http://11.0.0.5:81/', 'http://11.9.9.9/', 'http://192.0.2.50/']) {
    const started = Date.now();
    await assert.rejects(ns('curl', ['-s', '-m', '3', url]), /exit 7/, url);
    assert.ok(Date.now() - started < 1000, `${url} refused fast`);
  }
  const { stdout } = await ns('ip', ['route', 'show', 'proto', '98']);
  assert.match(stdout, /^192\.0\.2\.50 dev up0/m, 'IP VIPs get a route');
});

test(
  'removing a backend is an increment; new connections never pick it; its flows are flushed',
  { skip: NEEDS_ROOT },
  async () => {
    await sync(table(vip(BACKENDS)));
    // A long-lived connection through the VIP, pinned on the backend that is about to go.
    const victim = BACKENDS[2]!;
    await sync(table(vip([victim])));
    const held = spawn('ip', ['netns', 'exec', NS, 'nc', '11.0.0.5', '80'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    try {
      await eventually(async () => {
        const { stdout } = await ns('conntrack', [
          '-L',
          '-p',
          'tcp',
          '--orig-dst',
          '11.0.0.5',
          '--reply-src',
          victim,
        ]);
        assert.match(stdout, /ESTABLISHED/);
      }, 5000);
      const r = await sync(table(vip(BACKENDS.slice(0, 2))));
      assert.equal(r.kind, 'incremental');
      assert.ok(r.flushed >= 1);
      const { stdout } = await ns('conntrack', [
        '-L',
        '-p',
        'tcp',
        '--orig-dst',
        '11.0.0.5',
        '--reply-src',
        victim,
      ]);
      assert.doesNotMatch(stdout, /ESTABLISHED/, 'flow to the departed backend flushed');
      const seen = await spread('http://11.0.0.5/', 20);
      assert.deepEqual([...seen.keys()].sort(), BACKENDS.slice(0, 2));
    } finally {
      held.kill('SIGKILL');
    }
  },
);

test('weights: a probation backend gets half the share of a full one', { skip: NEEDS_ROOT }, async () => {
  const v = vip(BACKENDS.slice(0, 2));
  v.backends[1]!.weight = 1;
  await sync(table(v));
  const { stdout } = await ns('nft', ['list', 'map', 'inet', 'dcnet_l4lb', 'be4']);
  const slots = (re: RegExp) => (stdout.match(re) ?? []).length;
  assert.equal(slots(/10\.78\.1\.2 \. 8080/g), 2);
  assert.equal(slots(/10\.78\.2\.2 \. 8080/g), 1);
});

test('drift is read back on resync and repaired with a full reload', { skip: NEEDS_ROOT }, async () => {
  const t = table(vip(BACKENDS));
  await sync(t);
  assert.equal((await sync(t, true)).kind, 'unchanged');
  await ns('nft', ['delete', 'element', 'inet', 'dcnet_l4lb', 'vips4', '{ 11.0.0.5 . tcp . 80 }']);
  assert.equal(await curl('http://11.0.0.5/'), 'FAIL');
  assert.equal((await sync(t, true)).kind, 'repair');
  assert.notEqual(await curl('http://11.0.0.5/'), 'FAIL');
  await ns('nft', ['delete', 'table', 'inet', 'dcnet_l4lb']);
  assert.equal((await sync(t, true)).kind, 'repair');
  assert.notEqual(await curl('http://11.0.0.5/'), 'FAIL');
});

test('UDP VIPs, and client-IP affinity pins a client to one backend', { skip: NEEDS_ROOT }, async () => {
  const udp = vip(BACKENDS, { protocol: 'udp', port: 53 });
  udp.backends.forEach((b) => (b.port = 5353));
  const sticky = vip(BACKENDS, { port: 81, affinity: true });
  await sync(table(vip(BACKENDS), udp, sticky));
  const answers = new Set<string>();
  for (let i = 0; i < 15; i++) {
    const { stdout } = await ns('sh', ['-c', 'echo q | nc -u -w 1 11.0.0.5 53']);
    answers.add(stdout.trim());
  }
  assert.ok(
    [...answers].every((a) => BACKENDS.includes(a)),
    [...answers].join(','),
  );
  assert.ok(answers.size >= 2, 'UDP spread over backends');
  const sticky1 = await spread('http://11.0.0.5:81/', 15);
  assert.equal(sticky1.size, 1, `one backend for one client: ${JSON.stringify([...sticky1])}`);
  assert.ok(BACKENDS.includes([...sticky1.keys()][0]!));
});

test(
  "without conntrack flushing: a departed backend's flows are reset by the gone set; it can come back",
  { skip: NEEDS_ROOT },
  async () => {
    const nftOnly = new L4lbReconciler({
      selfIp: SELF,
      log: testLogger(),
      kernel: { netns: NS },
      flush: 'nft',
    });
    const victim = BACKENDS[0]!;
    await nftOnly.request(table(vip([victim])));
    // A connection pinned on the victim, idle: nc keeps it open while its stdin is.
    const held = spawn('ip', ['netns', 'exec', NS, 'nc', '11.0.0.5', '80'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const exited = new Promise<number | null>((r) => held.once('exit', (code) => r(code)));
    try {
      await eventually(async () => {
        const { stdout } = await ns('conntrack', [
          '-L',
          '-p',
          'tcp',
          '--orig-dst',
          '11.0.0.5',
          '--reply-src',
          victim,
        ]);
        assert.match(stdout, /ESTABLISHED/);
      }, 5000);
      await nftOnly.request(table(vip(BACKENDS.slice(1))));
      assert.equal(nftOnly.error, undefined);
      const { stdout } = await ns('nft', ['list', 'set', 'inet', 'dcnet_l4lb', 'gone4']);
      assert.match(stdout, new RegExp(`11\\.0\\.0\\.5 \\. tcp \\. ${victim.replace(/\./g, '\\.')} \\. 8080`));
      // The next packet of the old flow is answered with a reset: the client fails at once.
      held.stdin!.write('GET / HTTP/1.0\r\n\r\n');
      const code = await Promise.race([exited, sleep(3000).then(() => 'hung' as const)]);
      assert.notEqual(code, 'hung', 'the client was reset, not left hanging');
      const seen = await spread('http://11.0.0.5/', 12);
      assert.deepEqual([...seen.keys()].sort(), BACKENDS.slice(1));
      // Back again: out of the gone set in the same transaction, and reachable.
      await nftOnly.request(table(vip(BACKENDS)));
      const after = await ns('nft', ['list', 'set', 'inet', 'dcnet_l4lb', 'gone4']);
      assert.doesNotMatch(after.stdout, new RegExp(victim.replace(/\./g, '\\.')));
      const back = await spread('http://11.0.0.5/', 30);
      assert.equal(back.get('FAIL'), undefined);
      assert.ok(back.has(victim), JSON.stringify([...back]));
    } finally {
      held.kill('SIGKILL');
    }
  },
);
