// The Mesos-DNS HTTP API (specs/mesos-dns.md §4, upstream TestHTTP §6.5) via fastify inject, and the
// record service behind it: last good records kept on garbage, serials, host-name resolution.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { pino } from 'pino';
import {
  acceptsJson,
  goJson,
  MAX_PARAM_LENGTH,
  MesosDnsService,
  parseMesosDnsConfig,
  pollInto,
  registerMesosDnsRoutes,
  renderConfig,
  type MesosDnsConfig,
  type MesosDnsSnapshot,
} from '../../src/dns/mesos/index.js';
import { parseMesosState, type MesosState } from '../../src/cluster/index.js';
import { fixture } from '../helpers/fixtures.js';
import { eventually } from '../helpers/eventually.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug' },
    { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) },
  );
  return { log, lines };
}

const resolverTestConfig = (extra: Record<string, unknown> = {}): MesosDnsConfig =>
  parseMesosDnsConfig(
    {
      masters: ['144.76.157.37:5050'],
      EnforceRFC952: true,
      IPSources: ['netinfo', 'docker', 'mesos', 'host'],
      listener: '127.0.0.1',
      SOAMname: 'mesos-dns.mesos',
      ...extra,
    },
    { file: '/tmp/config.json', resolvConfNameservers: ['192.0.2.53'] },
  ).config;

const fakeState = (): Record<string, unknown> =>
  JSON.parse(fixture('mesos-dns/fake.json')) as Record<string, unknown>;
const lookupLocalhost = async (host: string): Promise<string[]> =>
  host === 'localhost' ? ['127.0.0.1'] : [];

async function setup(extra: Record<string, unknown> = {}) {
  const config = resolverTestConfig(extra);
  const { log, lines } = capture();
  let clock = 1_700_000_000_000;
  const service = new MesosDnsService({ config, log, lookup: lookupLocalhost, now: () => clock });
  const app = Fastify({ maxParamLength: MAX_PARAM_LENGTH });
  registerMesosDnsRoutes(app, service, config, { version: '0.1.1' });
  await app.ready();
  const get = async (url: string, headers: Record<string, string> = {}) => {
    const r = await app.inject({ method: 'GET', url, headers });
    return {
      status: r.statusCode,
      type: r.headers['content-type'],
      body: r.body,
      json: () => JSON.parse(r.body) as unknown,
    };
  };
  return { config, service, app, get, lines, tick: (ms: number) => (clock += ms) };
}

test('TestHTTP (§6.5): version, config, services, hosts on the fixture', async () => {
  const { service, get, config, app } = await setup();
  assert.equal(await service.update(fakeState(), '144.76.157.37:5050'), true);
  const version = await get('/v1/version');
  assert.equal(version.status, 200);
  assert.match(String(version.type), /^application\/json/);
  assert.deepEqual(version.json(), {
    Service: 'Mesos-DNS',
    URL: 'https://github.com/mesosphere/mesos-dns',
    Version: '0.1.1',
  });
  assert.deepEqual((await get('/v1/config')).json(), renderConfig(config, service.current()!.serial));
  assert.deepEqual((await get('/v1/services/_leader._tcp.mesos.')).json(), [
    { service: '_leader._tcp.mesos.', host: 'leader.mesos.', ip: '1.2.3.4', port: '5050' },
  ]);
  assert.deepEqual((await get('/v1/services/_myservice._tcp.mesos.')).json(), [
    { service: '', host: '', ip: '', port: '' },
  ]);
  assert.deepEqual((await get('/v1/hosts/leader.mesos')).json(), [{ host: 'leader.mesos.', ip: '1.2.3.4' }]);
  const accept = await get('/v1/hosts/leader.mesos', { accept: 'application/json' });
  assert.equal(accept.status, 200);
  await app.close();
});

test('§4 examples: several values, case, wildcard, no match, services without a trailing dot', async () => {
  const { service, get } = await setup();
  await service.update(fakeState());
  const ips = (body: unknown) => (body as { ip: string }[]).map((x) => x.ip).sort();
  assert.deepEqual(ips((await get('/v1/hosts/master.mesos.')).json()), ['1.2.3.4', '144.76.157.37']);
  const liquor = (await get('/v1/hosts/LIQUOR-STORE.marathon.mesos')).json() as { host: string }[];
  assert.deepEqual(ips(liquor), ['10.3.0.1', '10.3.0.2']);
  assert.ok(liquor.every((x) => x.host === 'liquor-store.marathon.mesos.'));
  assert.deepEqual(ips((await get('/v1/hosts/liquor-store.*.marathon.mesos')).json()), [
    '10.3.0.1',
    '10.3.0.2',
  ]);
  assert.deepEqual((await get('/v1/hosts/nothere.mesos')).json(), [{ host: '', ip: '' }]);
  // A before AAAA for a name with both.
  const slave = (await get('/v1/hosts/slave.mesos')).json() as { ip: string }[];
  assert.equal(slave.at(-1)!.ip, '2001:db8::1');
  const services = (await get('/v1/services/_liquor-store._tcp.marathon.mesos')).json() as Record<
    string,
    string
  >[];
  assert.equal(services.length, 4);
  assert.ok(services.every((s) => s.service === '_liquor-store._tcp.marathon.mesos'));
  assert.deepEqual([...new Set(services.map((s) => s.host))].sort(), [
    'liquor-store-4dfjd-0.marathon.mesos.',
    'liquor-store-zasmd-1.marathon.mesos.',
  ]);
  assert.deepEqual(services.map((s) => s.port).sort(), ['443', '443', '80', '80']);
  // An SRV target with both families gives one entry per family.
  const toy = (await get('/v1/services/_toy-store._tcp.ipv6-framework.mesos.')).json() as Record<
    string,
    string
  >[];
  assert.deepEqual(toy.map((s) => `${s.ip}:${s.port}`).sort(), ['2001:db8::1:31354', '2001:db8::1:31355']);
});

test('status codes and formats: 404, 405 (HEAD too), 406, 501, trailing slash, Go pretty-printing', async () => {
  const { service, get, app } = await setup();
  await service.update(fakeState());
  const nf = await get('/v2/nothing');
  assert.equal(nf.status, 404);
  assert.equal(nf.body, '404: Page Not Found');
  for (const method of ['POST', 'PUT', 'DELETE', 'HEAD'] as const) {
    const r = await app.inject({ method, url: '/v1/version' });
    assert.equal(r.statusCode, 405, method);
    if (method !== 'HEAD') assert.equal(r.body, '405: Method Not Allowed');
  }
  const html = await get('/v1/version', { accept: 'text/html' });
  assert.equal(html.status, 406);
  assert.equal(html.body, '406: Not Acceptable');
  assert.equal((await get('/v1/version', { accept: 'text/html, */*;q=0.8' })).status, 200);
  const ports = await get('/v1/hosts/leader.mesos/ports');
  assert.equal(ports.status, 501);
  assert.equal(ports.body, 'To be implemented...');
  assert.equal((await get('/v1/version/')).status, 200);
  assert.equal((await get('/v1/hosts/leader.mesos/')).status, 200);
  assert.equal(
    (await get('/v1/hosts/leader.mesos')).body,
    '[\n  {\n   "host": "leader.mesos.",\n   "ip": "1.2.3.4"\n  }\n ]',
  );
  assert.equal(goJson({ a: '<&>' }), '{\n  "a": "\\u003c\\u0026\\u003e"\n }');
  assert.equal(acceptsJson(undefined), true);
  assert.equal(acceptsJson('application/json; charset=utf-8'), true);
  assert.equal(acceptsJson('application/json;q=0'), false);
  assert.equal(acceptsJson('text/plain'), false);
});

test('/v1/enumerate and /v1/axfr shapes; both gone with EnumerationOn false', async () => {
  const { service, get, config } = await setup();
  await service.update(fakeState());
  const e = (await get('/v1/enumerate')).json() as {
    frameworks: { tasks: { name: string; id: string; records: unknown[] | null }[]; name: string }[];
  };
  assert.deepEqual(Object.keys(e.frameworks[0]!), ['tasks', 'name']);
  assert.deepEqual(
    e.frameworks.map((f) => f.name),
    ['ipv6-framework', 'chronos with a space AND MIXED CASE-2.0.1', 'no pid', 'marathon'],
  );
  assert.deepEqual(e.frameworks[2]!.tasks, []);
  const toy = e.frameworks[0]!.tasks[0]!;
  assert.equal(toy.name, 'toy-store');
  assert.deepEqual(toy.records![0], {
    name: 'toy-store.ipv6-framework.mesos.',
    host: '12.0.1.3',
    rtype: 'A',
  });
  const axfr = (await get('/v1/axfr')).json() as Record<string, unknown> & {
    Records: Record<string, Record<string, string[]>>;
  };
  assert.deepEqual(Object.keys(axfr), [
    'TTL',
    'Serial',
    'RefreshSeconds',
    'Mname',
    'Rname',
    'Domain',
    'Records',
  ]);
  assert.equal(axfr.Serial, service.current()!.serial);
  assert.equal(axfr.Mname, 'mesos-dns.mesos.');
  assert.equal(axfr.Domain, config.Domain);
  const names = Object.keys(axfr.Records.As!);
  assert.deepEqual(names, [...names].sort());
  assert.deepEqual(axfr.Records.SRVs!['_leader._tcp.mesos.'], ['leader.mesos.:5050']);
  assert.deepEqual(axfr.Records.AAAAs!['slave.mesos.'], ['2001:db8::1']);

  const off = await setup({ EnumerationOn: false });
  await off.service.update(fakeState());
  assert.equal((await off.get('/v1/enumerate')).status, 404);
  assert.equal((await off.get('/v1/axfr')).status, 404);
  // No frameworks at all → null, as upstream.
  await off.service.update({ leader: 'master@192.0.2.1:5050' });
  const bare = await setup();
  await bare.service.update({ leader: 'master@192.0.2.1:5050' });
  assert.deepEqual((await bare.get('/v1/enumerate')).json(), { frameworks: null });
});

test('before the first state: 503 for record routes, version and config still answer', async () => {
  const { get } = await setup();
  assert.equal((await get('/v1/hosts/leader.mesos')).status, 503);
  assert.equal((await get('/v1/version')).status, 200);
  assert.equal((await get('/v1/config')).status, 200);
});

test('service: garbage states and failed polls keep the last good records and serial, logged', async () => {
  const { service, lines, tick } = await setup();
  const seen: MesosDnsSnapshot[] = [];
  service.onRecords((s) => seen.push(s));
  assert.equal(await service.update(fakeState(), 'm1'), true);
  const good = service.current()!;
  assert.equal(good.serial, 1_700_000_000);
  assert.equal(seen.length, 1);
  tick(5000);
  for (const garbage of [
    'not json at all',
    { leader: '' },
    { ...fakeState(), leader: 'no-at-sign' },
    { leader: 'master@192.0.2.1:5050', slaves: 'nope' },
    { leader: 'master@192.0.2.1:5050', frameworks: [{ name: 'x', tasks: [{ id: 1 }] }] },
  ]) {
    assert.equal(await service.update(garbage), false, JSON.stringify(garbage).slice(0, 60));
    assert.equal(service.current(), good);
  }
  service.pollFailed('connect ECONNREFUSED 127.0.0.1:5050');
  assert.equal(service.current(), good);
  assert.equal(seen.length, 1);
  const kept = lines.filter((l) => l.msg === 'keeping old DNS state');
  assert.equal(kept.length, 6);
  assert.match(String(kept[1]!.reason), /does not contain leader information/);
  assert.match(String(kept[3]!.reason), /slaves/);
  // The next good state replaces the records and the serial.
  tick(5000);
  assert.equal(await service.update({ ...fakeState(), leader: 'master@192.0.2.7:5050' }), true);
  assert.equal(service.current()!.serial, 1_700_000_010);
  assert.deepEqual([...service.current()!.records.a.get('leader.mesos.')!], ['192.0.2.7']);
  assert.equal(seen.length, 2);
});

test('service: agent, framework and master host names are resolved; unresolvable ones skipped, no crash', async () => {
  const config = resolverTestConfig({
    masters: ['master-a.example:5050', '192.0.2.2:5050', 'gone.example:5050'],
  });
  const { log, lines } = capture();
  const asked: string[] = [];
  const service = new MesosDnsService({
    config,
    log,
    lookup: async (host) => {
      asked.push(host);
      if (host === 'agent1.example') return ['192.0.2.21', '2001:db8::21'];
      if (host === 'master-a.example') return ['192.0.2.1'];
      if (host === 'sched.example') return ['192.0.2.30'];
      throw new Error('ENOTFOUND');
    },
  });
  const ok = await service.update({
    leader: 'master@192.0.2.2:5050',
    slaves: [{ id: 'x-S1', pid: 'slave(1)@agent1.example:5051' }],
    frameworks: [
      {
        name: 'fw',
        pid: 'scheduler@sched.example:9000',
        tasks: [{ id: 't1', name: 'web', slave_id: 'x-S1', state: 'TASK_RUNNING' }],
      },
    ],
  });
  assert.equal(ok, true);
  const { a, aaaa, srv } = service.current()!.records;
  assert.deepEqual([...a.get('slave.mesos.')!], ['192.0.2.21']);
  assert.deepEqual([...aaaa.get('slave.mesos.')!], ['2001:db8::21']);
  assert.deepEqual([...a.get('web.fw.mesos.')!], ['192.0.2.21']);
  assert.deepEqual([...a.get('fw.mesos.')!], ['192.0.2.30']);
  assert.deepEqual([...srv.get('_framework._tcp.fw.mesos.')!], ['fw.mesos.:9000']);
  // master-a resolves and is master0; the leader (192.0.2.2) is master1; gone.example is skipped.
  assert.deepEqual([...a.get('master0.mesos.')!], ['192.0.2.1']);
  assert.deepEqual([...a.get('master1.mesos.')!], ['192.0.2.2']);
  assert.equal(a.get('master2.mesos.'), undefined);
  assert.deepEqual(asked.sort(), ['agent1.example', 'gone.example', 'master-a.example', 'sched.example']);
  assert.ok(lines.some((l) => l.msg === 'host names without addresses: no records for them'));
});

test('service: a state arriving during a refresh supersedes waiting ones (newest wins)', async () => {
  const config = resolverTestConfig();
  const { log } = capture();
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const service = new MesosDnsService({
    config,
    log,
    lookup: async () => {
      await gate;
      return ['192.0.2.99'];
    },
  });
  const slow = service.update({
    leader: 'master@192.0.2.1:5050',
    slaves: [{ id: 's', pid: 'slave@slow.example:5051' }],
  });
  const middle = service.update({ leader: 'master@192.0.2.2:5050' });
  const newest = service.update({ leader: 'master@192.0.2.3:5050' });
  release();
  assert.deepEqual(await Promise.all([slow, middle, newest]), [true, false, true]);
  assert.deepEqual([...service.current()!.records.a.get('leader.mesos.')!], ['192.0.2.3']);
});

test('service: a wildcard listener publishes the interface addresses as the name-server record', async () => {
  const config = resolverTestConfig({ listener: '0.0.0.0', SOAMname: 'ns1.mesos' });
  const service = new MesosDnsService({
    config,
    log: capture().log,
    interfaceAddresses: () => ['192.0.2.5', 'fe80::1'],
  });
  await service.update({ leader: 'master@192.0.2.1:5050' });
  assert.deepEqual([...service.current()!.records.a.get('ns1.mesos.')!], ['192.0.2.5']);
  assert.deepEqual([...service.current()!.records.aaaa.get('ns1.mesos.')!], ['fe80::1']);
});

test('long names (up to 253 octets) are found over HTTP', async () => {
  const { service, get } = await setup({ EnforceRFC952: false });
  const task = 'a'.repeat(63);
  const fw = `${'f'.repeat(60)}.${'g'.repeat(60)}`;
  await service.update({
    leader: 'master@192.0.2.1:5050',
    slaves: [{ id: 'x-S1', pid: 'slave(1)@192.0.2.21:5051' }],
    frameworks: [{ name: fw, tasks: [{ id: 't', name: task, slave_id: 'x-S1', state: 'TASK_RUNNING' }] }],
  });
  const name = `${task}.${fw}.slave.mesos.`;
  assert.ok(name.length > 190);
  assert.equal((await get(`/v1/hosts/${name}`)).status, 200);
  assert.deepEqual((await get(`/v1/hosts/${name}`)).json(), [{ host: name, ip: '192.0.2.21' }]);
});

test('pollInto: polls at once and every interval, failures logged (first three, then one in ten)', async () => {
  const config = resolverTestConfig();
  const { log, lines } = capture();
  const service = new MesosDnsService({ config, log });
  const listeners = new Set<(s: MesosState, m: { master: string; at: number }) => void>();
  let polls = 0;
  let answer = true;
  const source = {
    onState(fn: (s: MesosState, m: { master: string; at: number }) => void) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    async pollOnce() {
      polls++;
      if (!answer) return false;
      for (const fn of listeners)
        fn(parseMesosState(fakeState()), { master: '192.0.2.1:5050', at: Date.now() });
      return true;
    },
  };
  const polling = pollInto(service, source, 5);
  await eventually(async () => assert.ok(service.current()), 2000, 5);
  assert.equal(service.current()!.master, '192.0.2.1:5050');
  answer = false;
  await eventually(async () => assert.ok(polls >= 25), 5000, 5);
  await polling.stop();
  const stoppedAt = polls;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(polls, stoppedAt, 'no poll after stop');
  const failures = lines.filter((l) => l.msg === 'keeping old DNS state').map((l) => String(l.reason));
  assert.deepEqual(failures.slice(0, 4), [
    'no Mesos master answered (1 in a row)',
    'no Mesos master answered (2 in a row)',
    'no Mesos master answered (3 in a row)',
    'no Mesos master answered (10 in a row)',
  ]);
  assert.ok(service.current(), 'the records stay');
  assert.equal(listeners.size, 0, 'unsubscribed');
});
