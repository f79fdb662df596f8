// `dcnet mesos-dns` as a process against the Mesos/Marathon emulator (tasks are real processes in
// network namespaces of simulated agents): records of running tasks over HTTP and DNS (dig), a
// killed or added task followed on the next refresh, forwarding to a local fake upstream, the
// last good records kept while the emulator is down, and bad configs refused with exit 2.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import dnsPacket from 'dns-packet';
import { run } from '../../src/kernel/raw.js';
import { runDcnet, startDcnet, waitForLog, type RunningProcess } from '../helpers/process.js';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';
import { tempDir } from '../helpers/tmp.js';

const PREFIX = 'mdns-';
const prefix = `${PREFIX}${process.pid}-`;
const agents = [
  { name: 'a1', ip: '192.0.2.11' },
  { name: 'a2', ip: '192.0.2.12' },
];

/** Namespaces of earlier runs whose test process is gone. */
async function sweep(all = false): Promise<void> {
  const names = await readdir('/run/netns').catch(() => [] as string[]);
  for (const ns of names.filter((n) => n.startsWith(PREFIX))) {
    const pid = Number(ns.slice(PREFIX.length).split('-')[0]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      /* gone */
    }
    if (all ? ns.startsWith(prefix) : !alive) await run('ip', ['netns', 'del', ns]).catch(() => {});
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A local upstream resolver: `up.example.` A 203.0.113.5, everything else NXDOMAIN. */
async function fakeUpstream() {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    const name = q.questions?.[0]?.name ?? '';
    const reply = dnsPacket.encode({
      id: q.id,
      type: 'response',
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (name === 'up.example' ? 0 : 3),
      questions: q.questions,
      answers: name === 'up.example' ? [{ type: 'A', name, ttl: 30, data: '203.0.113.5' }] : [],
    });
    sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, close: () => sock.close() };
}

const exec = promisify(execFile);
async function dig(port: number, name: string, type = 'A'): Promise<string[]> {
  const { stdout } = await exec('dig', [
    '@127.0.0.1',
    '-p',
    String(port),
    '+short',
    '+time=2',
    '+tries=1',
    name,
    type,
  ]);
  return stdout.trim().split('\n').filter(Boolean).sort();
}

let emulator: RunningProcess | undefined;
let mesosDns: RunningProcess | undefined;
let upstream: Awaited<ReturnType<typeof fakeUpstream>> | undefined;
let marathon = '';
let http = '';
let dnsPort = 0;
let mesosPort = 0;
let topologyFile = '';

const getJson = async (url: string): Promise<unknown> => {
  const r = await fetch(url);
  assert.equal(r.status, 200, url);
  return r.json();
};
const hosts = async (name: string): Promise<string[]> =>
  ((await getJson(`${http}/v1/hosts/${name}`)) as { ip: string }[])
    .map((h) => h.ip)
    .filter((ip) => ip !== '')
    .sort();
type Enum = {
  frameworks: { name: string; tasks: { id: string; name: string; records: unknown[] | null }[] }[] | null;
};
const enumeratedIds = async (): Promise<string[]> =>
  ((await getJson(`${http}/v1/enumerate`)) as Enum)
    .frameworks!.flatMap((f) => f.tasks.map((t) => t.id))
    .sort();
type MarathonTask = { id: string; host: string; state: string; ports: number[] };
const marathonTasks = async (app: string): Promise<MarathonTask[]> =>
  ((await getJson(`${marathon}/v2/apps/${app}/tasks`)) as { tasks: MarathonTask[] }).tasks;
const runningTasks = async (app: string, n: number): Promise<MarathonTask[]> =>
  eventually(async () => {
    const ts = (await marathonTasks(app)).filter((t) => t.state === 'TASK_RUNNING');
    assert.equal(ts.length, n);
    return ts;
  }, 30_000);

async function startEmulator(): Promise<RunningProcess> {
  const p = startDcnet([
    'emulator',
    '--topology',
    topologyFile,
    '--mesos-listen',
    `127.0.0.1:${mesosPort}`,
    '--marathon-listen',
    `127.0.0.1:${await freePort()}`,
    '--kill-grace',
    '100',
  ]);
  const line = await waitForLog(p, (l) => l.msg === 'emulator listening', 15_000);
  marathon = String(line.marathon);
  return p;
}

before(async () => {
  if (NEEDS_ROOT) return;
  await sweep();
  const dir = await tempDir('mesos-dns');
  const topo = {
    prefix: prefix.slice(0, -1),
    workdir: dir,
    master: { netns: `${prefix}master`, ip: '127.0.0.1' },
    agents: [] as { name: string; netns: string; ip: string; public: boolean; cniDir: string }[],
  };
  for (const a of agents) {
    const netns = `${prefix}${a.name}`;
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const cniDir = join(dir, a.name, 'cni');
    await mkdir(cniDir, { recursive: true });
    topo.agents.push({ name: a.name, netns, ip: a.ip, public: false, cniDir });
  }
  topologyFile = join(dir, 'topology.json');
  await writeFile(topologyFile, JSON.stringify(topo));
  mesosPort = await freePort();
  emulator = await startEmulator();
  upstream = await fakeUpstream();
  const config = join(dir, 'config.json');
  await writeFile(
    config,
    JSON.stringify({
      masters: [`127.0.0.1:${mesosPort}`],
      refreshSeconds: 1,
      stateTimeoutSeconds: 2,
      listener: '127.0.0.1',
      port: 0,
      HTTPListener: '127.0.0.1',
      httpPort: 0,
      resolvers: [`127.0.0.1:${upstream.port}`],
      IPSources: ['netinfo', 'mesos', 'host'],
      ns: 'ns1',
    }),
  );
  mesosDns = startDcnet(['mesos-dns', '--config', config, '--log-level', 'debug']);
  http = String((await waitForLog(mesosDns, (l) => l.msg === 'mesos-dns HTTP API listening', 20_000)).url);
  const dnsLine = await waitForLog(mesosDns, (l) => l.msg === 'mesos-dns DNS listening');
  dnsPort = Number(
    String((dnsLine.listen as string[])[0])
      .split(':')
      .pop(),
  );
});

after(async () => {
  await mesosDns?.kill();
  await emulator?.kill();
  upstream?.close();
  if (!NEEDS_ROOT) await sweep(true);
});

test(
  'running tasks are served over HTTP and DNS; added and killed tasks follow; forwarding',
  { skip: NEEDS_ROOT },
  async () => {
    const post = await fetch(`${marathon}/v2/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: '/web', instances: 2 }),
    });
    assert.equal(post.status, 201);
    const tasks = await runningTasks('web', 2);
    const agentIps = tasks.map((t) => t.host).sort();
    await eventually(async () => assert.deepEqual(await hosts('web.marathon.mesos'), agentIps), 10_000);
    assert.deepEqual(await dig(dnsPort, 'web.marathon.mesos'), agentIps);
    assert.deepEqual(await enumeratedIds(), tasks.map((t) => t.id).sort());
    // SRV from the DiscoveryInfo ports → the canonical name (task IP); from the host ports → .slave.
    const srv = await dig(dnsPort, '_web._tcp.marathon.mesos', 'SRV');
    assert.deepEqual(srv.map((s) => Number(s.split(' ')[2])).sort(), tasks.map((t) => t.ports[0]!).sort());
    assert.ok(
      srv.every((s) => /^0 1 \d+ web-[a-z0-9]{5}-s[01]\.marathon\.mesos\.$/.test(s)),
      srv.join('\n'),
    );
    const slaveSrv = await dig(dnsPort, '_web._udp.marathon.slave.mesos', 'SRV');
    assert.ok(
      slaveSrv.every((s) => /^0 1 \d+ web-[a-z0-9]{5}-s[01]\.marathon\.slave\.mesos\.$/.test(s)),
      slaveSrv.join('\n'),
    );
    assert.equal(slaveSrv.length, 2);
    assert.deepEqual(await dig(dnsPort, 'leader.mesos'), ['127.0.0.1']);
    assert.deepEqual(await dig(dnsPort, 'up.example'), ['203.0.113.5'], 'forwarded to the local upstream');
    const services = (await getJson(`${http}/v1/services/_web._tcp.marathon.mesos.`)) as { ip: string }[];
    assert.deepEqual(services.map((s) => s.ip).sort(), agentIps);

    // Kill one task (scaling down): gone from DNS and HTTP after the next refresh.
    const [victim, survivor] = tasks as [MarathonTask, MarathonTask];
    const del = await fetch(`${marathon}/v2/apps/web/tasks/${encodeURIComponent(victim.id)}?scale=true`, {
      method: 'DELETE',
    });
    assert.equal(del.status, 200);
    await eventually(async () => assert.deepEqual(await enumeratedIds(), [survivor.id]), 10_000);
    assert.deepEqual(await hosts('web.marathon.mesos'), [survivor.host]);
    assert.deepEqual(await dig(dnsPort, 'web.marathon.mesos'), [survivor.host]);

    // A new app appears on the next refresh.
    await fetch(`${marathon}/v2/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: '/shop/api', instances: 1 }),
    });
    const [api] = await runningTasks('shop/api', 1);
    await eventually(
      async () => assert.deepEqual(await dig(dnsPort, 'api-shop.marathon.mesos'), [api!.host]),
      10_000,
    );
    assert.deepEqual(await hosts('api.shop.marathon.mesos'), [api!.host], 'the raw DiscoveryInfo name too');
  },
);

test(
  'with the emulator down the last good records stay served (HTTP and DNS), then it recovers',
  { skip: NEEDS_ROOT },
  async () => {
    const before = await hosts('web.marathon.mesos');
    const serial = ((await getJson(`${http}/v1/axfr`)) as { Serial: number }).Serial;
    assert.ok(before.length > 0);
    await emulator!.kill();
    const failed = mesosDns!.logs.length;
    await eventually(async () => {
      assert.ok(mesosDns!.logs.slice(failed).some((l) => l.msg === 'keeping old DNS state'));
    }, 10_000);
    assert.deepEqual(await hosts('web.marathon.mesos'), before);
    assert.deepEqual(await dig(dnsPort, 'web.marathon.mesos'), before);
    const axfr = (await getJson(`${http}/v1/axfr`)) as { Serial: number };
    assert.equal(axfr.Serial, serial, 'serial unchanged while no state is loaded');
    assert.equal(mesosDns!.proc.exitCode, null, 'still running');
    // The emulator comes back (with no tasks): the next refresh replaces the records.
    emulator = await startEmulator();
    await eventually(async () => assert.deepEqual(await hosts('web.marathon.mesos'), []), 10_000);
    assert.deepEqual(await dig(dnsPort, 'web.marathon.mesos'), []);
    assert.ok(((await getJson(`${http}/v1/axfr`)) as { Serial: number }).Serial >= serial);
  },
);

test('bad configs exit 2 naming the field', async () => {
  const dir = await tempDir('mesos-dns-bad');
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ masters: ['127.0.0.1:5050'], refreshSeconds: 0 }, /refreshSeconds: must be a positive number/],
    [{ masters: ['nope'] }, /masters\[0\]: "nope" is not host:port/],
    [{ zk: 'zk://127.0.0.1:2181/mesos' }, /masters: required: dcnet has no ZooKeeper/],
    [{ masters: ['127.0.0.1:5050'], IPSources: ['dns'] }, /IPSources\[0\]: "dns" is not one of/],
    [
      { masters: ['127.0.0.1:5050'], mesosAuthentication: 'iam', IAMConfigFile: '/nonexistent/iam.json' },
      /IAMConfigFile: .*\/nonexistent\/iam\.json/,
    ],
    [{ masters: ['127.0.0.1:5050'], CACertFile: '/x' }, /CACertFile: custom TLS files are not supported/],
  ];
  for (const [doc, want] of cases) {
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify(doc));
    const r = await runDcnet(['mesos-dns', '--config', file]);
    assert.equal(r.code, 2, `${JSON.stringify(doc)}: ${r.stderr}`);
    assert.match(r.stderr, want);
  }
  const r = await runDcnet(['mesos-dns', '--config', join(dir, 'missing.json')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot read the config file/);
});
