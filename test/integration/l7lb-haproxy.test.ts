// `dcnet lb` against real HAProxy 2.6: every rendered config passes `haproxy -c`; then the whole
// controller in a network namespace (so it can own :80/:443/:9090/:9091) with a stand-in Marathon
// and real backends: vhost routing, membership changes through the Runtime API without reloads,
// reloads for structural changes, a bad app left out with the reason, 503 for a service without
// tasks, SIGHUP, and the Marathon-LB endpoints.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  blame,
  buildServices,
  defaultHead,
  globalOptions,
  Haproxy,
  renderConfig,
  selfSignedCert,
  Templater,
  type MarathonApp,
} from '../../src/l7lb/index.js';
import { Testbed, type Host, type Spawned } from '../../src/sim/index.js';
import { TASK_SERVER } from '../../src/sim/emulator/task-server.js';
import { DCNET } from '../helpers/process.js';
import { eventually, NEEDS_ROOT } from '../helpers/eventually.js';
import { tempDir } from '../helpers/tmp.js';
import { FAKE_MARATHON } from '../helpers/fake-marathon.js';

/** The admin token of the LB under test: /_mlb_signal/* needs it (refused by default). */
const ADMIN_TOKEN = 't0ken-for-the-test';

const HC = {
  protocol: 'HTTP',
  path: '/',
  portIndex: 0,
  intervalSeconds: 1,
  timeoutSeconds: 1,
  maxConsecutiveFailures: 2,
};

function app(
  id: string,
  port: number,
  labels: Record<string, string>,
  tasks: number[],
  extra: Partial<MarathonApp> = {},
): MarathonApp {
  return {
    id,
    instances: tasks.length,
    portDefinitions: [{ port }],
    labels: { HAPROXY_GROUP: 'external', ...labels },
    healthChecks: [HC],
    tasks: tasks.map((p) => ({
      id: `${id.slice(1)}.${p}`,
      host: '127.0.0.1',
      ports: [p],
      state: 'TASK_RUNNING',
    })),
    ...extra,
  };
}

test('haproxy -c accepts every rendered config (every label, map mode, grouped HTTPS, 503 backends)', async () => {
  const dir = await tempDir('l7-check');
  const cert = join(dir, 'cert.pem');
  await selfSignedCert(cert);
  const head = defaultHead(
    {
      statsSocket: join(dir, 's.sock'),
      serverStateFile: join(dir, 'state'),
      statsBind: '127.0.0.1:9090',
      apiAddr: '127.0.0.1:9089',
      maxconn: 4096,
    },
    globalOptions(undefined),
  );
  const all: Record<string, string>[] = [
    {},
    { HAPROXY_0_VHOST: 'a.test' },
    { HAPROXY_0_VHOST: 'a.test,b.test', HAPROXY_0_REDIRECT_TO_HTTPS: 'true' },
    { HAPROXY_0_VHOST: 'a.test', HAPROXY_0_PATH: '/p', HAPROXY_0_AUTH: 'realm:user:$5$salt$hash' },
    {
      HAPROXY_0_VHOST: 'a.test,b.test',
      HAPROXY_0_PATH: '-i /p /q',
      HAPROXY_0_AUTH: 'r:u:p',
      HAPROXY_0_REDIRECT_TO_HTTPS: 'true',
    },
    {
      HAPROXY_0_VHOST: 'a.test',
      HAPROXY_0_USE_HSTS: 'true',
      HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH: '/x/',
      HAPROXY_0_HTTP_BACKEND_REVPROXY_PATH: '/y',
      HAPROXY_0_HTTP_BACKEND_REDIR: '/z',
    },
    { HAPROXY_0_MODE: 'tcp', HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL: '10.0.0.0/8 192.0.2.0/24' },
    { HAPROXY_0_MODE: 'http', HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL: '10.0.0.0/8' },
    {
      HAPROXY_0_STICKY: 'true',
      HAPROXY_0_BALANCE: 'leastconn',
      HAPROXY_0_BIND_ADDR: '127.0.0.1',
      HAPROXY_0_BIND_OPTIONS: 'maxconn 100',
    },
    { HAPROXY_0_SSL_CERT: cert, HAPROXY_0_VHOST: 'tls.test' },
    {
      HAPROXY_0_BACKEND_WEIGHT: '5',
      HAPROXY_0_PORT: '12000',
      HAPROXY_0_VHOST: 'w.test',
      HAPROXY_0_PATH: '/w',
    },
  ];
  const apps = all.map((labels, i) =>
    app(`/g/app${i}`, 10000 + i, labels, i === 1 ? [] : [31000 + i, 32000 + i]),
  );
  apps.push(app('/tcpcheck', 10100, {}, [31100], { healthChecks: [{ ...HC, protocol: 'TCP' }] }));
  apps.push(app('/cmd', 10101, {}, [31101], { healthChecks: [{ protocol: 'COMMAND' }] }));
  const { services, errors } = buildServices(apps);
  assert.deepEqual(errors, []);
  const haproxy = new Haproxy({
    bin: 'haproxy',
    configPath: '',
    socketPath: '',
    serverStateFile: '',
    log: pino({ level: 'silent' }),
  });
  const variants: [string, Parameters<typeof renderConfig>[2]][] = [
    ['plain', { groups: ['external'], head, sslCerts: [cert], keepEmpty: true, stripHostPort: true }],
    ['vanishing', { groups: ['*'], head, sslCerts: [cert] }],
    ['map', { groups: ['external'], head, sslCerts: [cert], haproxyMap: true, haproxyDir: dir }],
    ['grouped', { groups: ['external'], head, sslCerts: [cert], groupHttpsByVhost: true, keepEmpty: true }],
    ['no-shared', { groups: ['external'], head, bindHttpHttps: false }],
  ];
  await writeFile(join(dir, 'domain2backend.map'), '');
  await writeFile(join(dir, 'app2backend.map'), '');
  for (const [name, o] of variants) {
    const r = renderConfig(services, new Templater(), o);
    assert.deepEqual(r.errors, []);
    const file = join(dir, `${name}.cfg`);
    await writeFile(file, r.text);
    const v = await haproxy.validate(file);
    assert.ok(v.ok, `${name}:\n${v.output}\n${r.text}`);
    assert.doesNotMatch(r.text, /\b(rspadd|reqirep|rspirep|reqadd|reqrep)\b/);
  }
  // A label inside its grammar that HAProxy still refuses (a certificate file that does not
  // exist) is traced back to its app by the line numbers of `haproxy -c`.
  const bad = [...apps, app('/bad', 10200, { HAPROXY_0_SSL_CERT: '/nonexistent/dcnet-test.pem' }, [31200])];
  const r = renderConfig(buildServices(bad).services, new Templater(), variants[0]![1]);
  const file = join(dir, 'bad.cfg');
  await writeFile(file, r.text);
  const v = await haproxy.validate(file);
  assert.equal(v.ok, false);
  assert.deepEqual(blame(v.output, r.ownerOfLine), ['/bad']);
});

// ---- the controller in a namespace ----

let tb: Testbed;
let host: Host;
let dir: string;
let appsFile: string;
let lb: Spawned;
let lbArgs: string[];
const backends = new Map<number, Spawned>();

async function setApps(apps: MarathonApp[], emit = true): Promise<void> {
  await writeFile(`${appsFile}.tmp`, JSON.stringify({ apps }));
  const { rename } = await import('node:fs/promises');
  await rename(`${appsFile}.tmp`, appsFile);
  if (emit) await curl(['http://127.0.0.1:8080/emit']);
}

async function curl(args: string[]): Promise<string> {
  const { stdout } = await tb.exec(host.netns, 'curl', ['-s', '-m', '3', ...args]);
  return stdout;
}

const get = (path: string, hostHeader?: string): Promise<string> =>
  curl([...(hostHeader ? ['-H', `Host: ${hostHeader}`] : []), `http://127.0.0.1${path}`]);

async function status(): Promise<{
  reloads: number;
  reloadsAvoided: number;
  excluded: { appId: string; error: string }[];
}> {
  return JSON.parse(await curl(['http://127.0.0.1:9090/_dcnet/status'])) as never;
}

/** Task ids answering `n` requests on the vhost. */
async function answering(vhost: string, n = 12): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add((await get('/', vhost)).split('\n')[0]!);
  return seen;
}

function startBackend(port: number): void {
  backends.set(
    port,
    tb.spawn(host.netns, process.execPath, [
      '-e',
      TASK_SERVER,
      JSON.stringify({ id: `web.${port}`, tcp: [port], udp: [] }),
    ]),
  );
}

before(async () => {
  if (NEEDS_ROOT) return;
  dir = await tempDir('l7-ctl');
  appsFile = join(dir, 'apps.json');
  tb = await Testbed.create();
  host = await tb.addHost('lb', 1);
  for (const p of [8001, 8002, 8003, 8004]) startBackend(p);
  await writeFile(appsFile, JSON.stringify({ apps: [] }));
  tb.spawn(host.netns, process.execPath, ['-e', FAKE_MARATHON, appsFile, '8080']);
  await setApps(
    [
      app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8001, 8002]),
      app('/other', 10002, { HAPROXY_0_VHOST: 'other.test' }, [8003]),
    ],
    false,
  );
  await writeFile(join(dir, 'admin-token'), `${ADMIN_TOKEN}\n`, { mode: 0o600 });
  lbArgs = [
    DCNET,
    'lb',
    '--marathon',
    'http://127.0.0.1:8080',
    '--group',
    'external',
    '--haproxy-config',
    join(dir, 'lb', 'haproxy.cfg'),
    '--admin-token-file',
    join(dir, 'admin-token'),
    '--log-level',
    'debug',
  ];
  lb = tb.spawn(host.netns, process.execPath, lbArgs);
  await eventually(
    async () => assert.deepEqual(await answering('web.test', 6), new Set(['web.8001', 'web.8002'])),
    20_000,
    200,
  );
});

after(async () => {
  await tb?.destroy();
});

const logs = (): string => lb.output().slice(-3000);

test(
  'vhost routing to every instance; the service port and the app-id frontend too',
  { skip: NEEDS_ROOT },
  async () => {
    assert.deepEqual(await answering('other.test', 3), new Set(['web.8003']));
    // Marathon-LB misses the vhost when the Host header carries the default port (§1.13 quirk 2).
    assert.match(await get('/', 'web.test:80'), /^web\.800[12]\n/);
    assert.match(
      await curl([
        '-k',
        '--resolve',
        'web.test:443:127.0.0.1',
        '-H',
        'Host: web.test:443',
        'https://web.test/',
      ]),
      /^web\.800[12]\n/,
    );
    assert.match(await curl(['http://127.0.0.1:10001/']), /^web\.800[12]\n/);
    assert.match(await curl(['-H', 'X-Marathon-App-Id: /other', 'http://127.0.0.1:9091/']), /^web\.8003\n/);
    assert.equal(
      await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: nowhere.test', 'http://127.0.0.1/']),
      '503',
    );
    assert.match(
      await curl(['-k', '--resolve', 'web.test:443:127.0.0.1', 'https://web.test/']),
      /^web\.800[12]\n/,
    );
  },
);

test(
  'scaling goes through the Runtime API: no reload; structure changes reload',
  { skip: NEEDS_ROOT },
  async () => {
    const before = await status();
    await setApps([
      app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8001, 8002, 8004]),
      app('/other', 10002, { HAPROXY_0_VHOST: 'other.test' }, [8003]),
    ]);
    await eventually(async () => assert.ok((await answering('web.test', 9)).has('web.8004')), 10_000, 200);
    await setApps([
      app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8002, 8004]),
      app('/other', 10002, { HAPROXY_0_VHOST: 'other.test' }, [8003]),
    ]);
    await eventually(
      async () => assert.deepEqual(await answering('web.test', 8), new Set(['web.8002', 'web.8004'])),
      10_000,
      200,
    );
    const mid = await status();
    assert.equal(mid.reloads, before.reloads, logs());
    assert.equal(mid.reloadsAvoided, before.reloadsAvoided + 2);
    const cfg = await curl(['http://127.0.0.1:9090/_haproxy_getconfig']);
    assert.match(cfg, /server 127_0_0_1_8004 127.0.0.1:8004 id \d+ check inter 1s fall 3\n/);
    assert.doesNotMatch(cfg, /127_0_0_1_8001/);
    // A weight label changes server lines only: `set server … weight`, still no reload.
    await setApps([
      app('/web', 10001, { HAPROXY_0_VHOST: 'web.test', HAPROXY_0_SERVER_WEIGHT: '7' }, [8002, 8004]),
      app('/other', 10002, { HAPROXY_0_VHOST: 'other.test' }, [8003]),
    ]);
    await eventually(
      async () => {
        const csv = await curl(['http://127.0.0.1:9090/haproxy?stats;csv']);
        const web = csv
          .split('\n')
          .map((l) => l.split(','))
          .filter((f) => f[0] === 'web_10001' && /^127_/.test(f[1] ?? ''));
        assert.deepEqual(
          web.map((f) => f[18]),
          ['7', '7'],
          csv,
        );
      },
      10_000,
      200,
    );
    assert.equal((await status()).reloads, before.reloads, logs());
    // A new vhost is structure: validated and reloaded.
    await setApps([
      app(
        '/web',
        10001,
        { HAPROXY_0_VHOST: 'web.test,www.test', HAPROXY_0_SERVER_WEIGHT: '7' },
        [8002, 8004],
      ),
      app('/other', 10002, { HAPROXY_0_VHOST: 'other.test' }, [8003]),
    ]);
    await eventually(async () => assert.match(await get('/', 'www.test'), /^web\.800[24]\n/), 10_000, 200);
    assert.equal((await status()).reloads, before.reloads + 1);
  },
);

test(
  'a leaving task is drained as soon as its event arrives; one that stays is served again',
  { skip: NEEDS_ROOT },
  async () => {
    await setApps([app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8001, 8002])]);
    await eventually(
      async () => assert.deepEqual(await answering('web.test', 6), new Set(['web.8001', 'web.8002'])),
      10_000,
      200,
    );
    const before = await status();
    // Marathon still lists the task as running (the stand-in does not change): only the event drains it.
    const killing = {
      eventType: 'status_update_event',
      taskStatus: 'TASK_KILLING',
      appId: '/web',
      taskId: 'web.8002',
      host: '127.0.0.1',
      ipAddresses: [{ ipAddress: '127.0.0.1', protocol: 'IPv4' }],
      ports: [8002],
    };
    await curl(['-X', 'POST', '-d', JSON.stringify(killing), 'http://127.0.0.1:8080/emit']);
    // The resync that follows finds the task still running and puts it back.
    await eventually(
      async () => assert.deepEqual(await answering('web.test', 6), new Set(['web.8001', 'web.8002'])),
      10_000,
      200,
    );
    const metrics = await curl(['http://127.0.0.1:9090/_dcnet/metrics']);
    assert.match(metrics, /dcnet_lb_runtime_commands_total\{kind="drain"\} 1/);
    assert.equal((await status()).reloads, before.reloads);
  },
);

test(
  'a bad app is left out with the reason; the others keep working; 503 without tasks',
  { skip: NEEDS_ROOT },
  async () => {
    const good = app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8002]);
    await setApps([
      good,
      app(
        '/bad',
        10003,
        { HAPROXY_0_VHOST: 'bad.test', HAPROXY_0_SSL_CERT: '/nonexistent/dcnet-test.pem' },
        [8003],
      ),
      app('/badlabel', 10004, { HAPROXY_0_AUTH: 'no-colons' }, [8003]),
      app('/empty', 10005, { HAPROXY_0_VHOST: 'empty.test' }, []),
    ]);
    await eventually(
      async () => {
        const s = await status();
        const ids = s.excluded.map((e) => e.appId).sort();
        assert.deepEqual(ids, ['/bad', '/badlabel'], JSON.stringify(s));
        assert.match(
          s.excluded.find((e) => e.appId === '/bad')!.error,
          /haproxy -c: .*unable to stat SSL certificate from file '\/nonexistent\/dcnet-test\.pem'/,
        );
        assert.match(s.excluded.find((e) => e.appId === '/badlabel')!.error, /HAPROXY_0_AUTH/);
      },
      10_000,
      200,
    );
    assert.match(await get('/', 'web.test'), /^web\.8002\n/);
    assert.equal(
      await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: empty.test', 'http://127.0.0.1/']),
      '503',
    );
    assert.equal(
      await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: bad.test', 'http://127.0.0.1/']),
      '503',
    );
    const metrics = await curl(['http://127.0.0.1:9090/_dcnet/metrics']);
    assert.match(metrics, /^dcnet_lb_apps_excluded 2$/m);
    assert.match(metrics, /^dcnet_lb_reloads_total\{outcome="ok"\} \d+$/m);
    // Scaled from zero: the 503 backend gets its server through the Runtime API.
    const avoided = (await status()).reloadsAvoided;
    await setApps([good, app('/empty', 10005, { HAPROXY_0_VHOST: 'empty.test' }, [8001])]);
    await eventually(async () => assert.match(await get('/', 'empty.test'), /^web\.8001\n/), 10_000, 200);
    assert.ok((await status()).reloadsAvoided >= avoided);
  },
);

test(
  'HAProxy workers run as the haproxy user in a chroot; /_haproxy_getconfig hides the userlist hashes',
  { skip: NEEDS_ROOT },
  async () => {
    const { readFile, readlink, stat } = await import('node:fs/promises');
    const passwd = await readFile('/etc/passwd', 'utf8');
    const uid = Number(/^haproxy:[^:]*:(\d+):/m.exec(passwd)?.[1]);
    assert.ok(uid > 0, 'the haproxy package made its user');
    const { stdout } = await tb.exec(host.netns, 'openssl', ['passwd', '-5', '-salt', 'dcnetsalt', 's3cret']);
    const hash = stdout.trim();
    await setApps([
      app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8001]),
      app(
        '/private',
        10006,
        { HAPROXY_0_VHOST: 'private.test', HAPROXY_0_AUTH: `realm:alice:${hash}` },
        [8002],
      ),
    ]);
    const code = (args: string[]): Promise<string> =>
      curl([
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-H',
        'Host: private.test',
        ...args,
        'http://127.0.0.1/',
      ]);
    await eventually(async () => assert.equal(await code(['-u', 'alice:s3cret']), '200'), 10_000, 200);
    assert.equal(await code([]), '401', 'the hash HAProxy loaded guards the vhost');
    const shown = await curl(['http://127.0.0.1:9090/_haproxy_getconfig']);
    assert.match(shown, /^ {2}user alice password <redacted>$/m);
    assert.ok(!shown.includes(hash) && !shown.includes('dcnetsalt'), shown);
    const onDisk = join(dir, 'lb', 'haproxy.cfg');
    assert.ok((await readFile(onDisk, 'utf8')).includes(hash));
    assert.equal((await stat(onDisk)).mode & 0o777, 0o600, 'the config with the hashes is owner-only');

    const gid = Number(/^haproxy:[^:]*:(\d+):/m.exec(await readFile('/etc/group', 'utf8'))?.[1]);
    const ids = async (pid: number, field: 'Uid' | 'Gid'): Promise<number[]> =>
      new RegExp(`^${field}:\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)$`, 'm')
        .exec(await readFile(`/proc/${pid}/status`, 'utf8'))!
        .slice(1)
        .map(Number);
    // Polled: a worker forked by a reload a moment ago may not have dropped yet.
    const master = await eventually(
      async () => {
        const [m, ...workers] = (await curl(['http://127.0.0.1:9090/_haproxy_getpids']))
          .split(' ')
          .map(Number);
        assert.ok(workers.length >= 1, 'a worker runs');
        assert.deepEqual(await ids(m!, 'Uid'), [0, 0, 0, 0], 'the master stays root (binds, reloads)');
        for (const w of workers) {
          assert.deepEqual(
            await ids(w, 'Uid'),
            [uid, uid, uid, uid],
            `worker ${w} real, effective, saved, fs uid`,
          );
          assert.deepEqual(await ids(w, 'Gid'), [gid, gid, gid, gid], `worker ${w} gids`);
          assert.equal(await readlink(`/proc/${w}/root`), '/var/lib/haproxy', `worker ${w} is chrooted`);
        }
        return m!;
      },
      5000,
      100,
    );
    assert.equal(await readlink(`/proc/${master}/root`), '/');
  },
);

test(
  'a reload that fails after haproxy -c passed (a taken port) restores the last good config, keeps serving, and is retried',
  { skip: NEEDS_ROOT },
  async () => {
    const { readFile } = await import('node:fs/promises');
    const web = app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8001]);
    await setApps([web]);
    await eventually(
      async () => assert.deepEqual(await answering('web.test', 3), new Set(['web.8001'])),
      10_000,
      200,
    );
    const good = await eventually(
      async () => {
        const text = await readFile(join(dir, 'lb', 'haproxy.cfg'), 'utf8');
        assert.doesNotMatch(text, /private/);
        return text;
      },
      10_000,
      200,
    );
    // Something else holds :10077 in the namespace; `haproxy -c` does not bind, so it passes.
    const holder = tb.spawn(host.netns, process.execPath, [
      '-e',
      "require('net').createServer().listen(10077, '0.0.0.0', () => console.log('holding'))",
    ]);
    try {
      await eventually(async () => assert.match(holder.output(), /holding/), 5000, 50);
      const failedBefore = Number(
        /^dcnet_lb_reloads_total\{outcome="failed"\} (\d+)$/m.exec(
          await curl(['http://127.0.0.1:9090/_dcnet/metrics']),
        )?.[1] ?? 0,
      );
      await setApps([web, app('/blocked', 10077, {}, [8002])]);
      await eventually(
        async () => {
          const s = (await status()) as { lastError?: string };
          assert.match(
            s.lastError ?? '',
            /^haproxy could not load the new config; the last good config is restored and keeps serving; caused by \/blocked; retrying in \d+ s: .*cannot bind socket/,
          );
        },
        15_000,
        200,
      );
      assert.equal(
        await readFile(join(dir, 'lb', 'haproxy.cfg'), 'utf8'),
        good,
        'the last good config is back on disk',
      );
      assert.match(await readFile(join(dir, 'lb', 'haproxy_reload_fail'), 'utf8'), /frontend blocked_10077/);
      assert.doesNotMatch(await curl(['http://127.0.0.1:9090/_haproxy_getconfig']), /blocked/);
      await eventually(
        async () => assert.deepEqual(await answering('web.test', 3), new Set(['web.8001'])),
        10_000,
        200,
      );
      const metrics = await curl(['http://127.0.0.1:9090/_dcnet/metrics']);
      assert.ok(
        Number(/^dcnet_lb_reloads_total\{outcome="failed"\} (\d+)$/m.exec(metrics)?.[1]) > failedBefore,
      );
    } finally {
      await holder.stop();
    }
    // The port is free again: a later resync (the retry timer, no new event) loads the config.
    await eventually(
      async () => assert.match(await curl(['http://127.0.0.1:10077/']), /^web\.8002\n/),
      30_000,
      250,
    );
    assert.match(await readFile(join(dir, 'lb', 'haproxy.cfg'), 'utf8'), /frontend blocked_10077/);
    await eventually(
      async () => assert.equal(((await status()) as { lastError?: string }).lastError, undefined),
      10_000,
      200,
    );
    assert.deepEqual(await answering('web.test', 3), new Set(['web.8001']));
  },
);

test(
  'SIGHUP and /_mlb_signal/hup resync; the Marathon-LB endpoints answer',
  { skip: NEEDS_ROOT },
  async () => {
    await setApps([app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8001])], false);
    lb.proc.kill('SIGHUP');
    await eventually(
      async () => assert.deepEqual(await answering('web.test', 4), new Set(['web.8001'])),
      10_000,
      200,
    );
    await setApps([app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8002])], false);
    assert.match(await curl(['http://127.0.0.1:9090/_mlb_signal/hup']), /401 Unauthorized/);
    assert.equal(
      await curl(['-H', `authorization: Bearer ${ADMIN_TOKEN}`, 'http://127.0.0.1:9090/_mlb_signal/hup']),
      'Sent SIGHUP signal to marathon-lb\n',
    );
    await eventually(
      async () => assert.deepEqual(await answering('web.test', 4), new Set(['web.8002'])),
      10_000,
      200,
    );
    assert.equal(
      await curl(['-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:9090/_haproxy_health_check']),
      '200',
    );
    assert.match(await curl(['http://127.0.0.1:9090/metrics']), /^haproxy_process_/m);
    assert.match(await curl(['http://127.0.0.1:9090/haproxy?stats;csv']), /^# pxname,svname,/);
    assert.ok((await curl(['http://127.0.0.1:9090/_haproxy_getpids'])).split(' ').length >= 2);
    assert.equal(await curl(['http://127.0.0.1:9090/_haproxy_getvhostmap']), '');
    assert.match(
      await curl(['-H', `authorization: Bearer ${ADMIN_TOKEN}`, 'http://127.0.0.1:9090/_mlb_signal/usr1']),
      /SIGUSR1/,
    );
  },
);

test('a crashed HAProxy is started again by the controller', { skip: NEEDS_ROOT }, async () => {
  await setApps([app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8001])]);
  await eventually(
    async () => assert.deepEqual(await answering('web.test', 3), new Set(['web.8001'])),
    10_000,
    200,
  );
  const master = Number((await curl(['http://127.0.0.1:9090/_haproxy_getpids'])).split(' ')[0]);
  assert.ok(master > 0);
  process.kill(master, 'SIGKILL');
  await eventually(
    async () => assert.deepEqual(await answering('web.test', 3), new Set(['web.8001'])),
    20_000,
    250,
  );
  const again = Number((await curl(['http://127.0.0.1:9090/_haproxy_getpids'])).split(' ')[0]);
  assert.notEqual(again, master);
});

test(
  'an invalid config that no app explains never replaces the running one; the reason is reported',
  { skip: NEEDS_ROOT },
  async () => {
    const { readFile, rm } = await import('node:fs/promises');
    const cert = join(dir, 'lb', 'default-cert.pem');
    const saved = await readFile(cert);
    await rm(cert);
    try {
      await setApps([app('/web', 10001, { HAPROXY_0_VHOST: 'web.test,new.test' }, [8001])]);
      await eventually(
        async () => {
          const s = (await status()) as { lastError?: string };
          assert.match(
            s.lastError ?? '',
            /haproxy -c rejected the config; keeping the running one: .*default-cert\.pem/,
          );
        },
        10_000,
        200,
      );
      assert.deepEqual(
        await answering('web.test', 3),
        new Set(['web.8001']),
        'the running config still serves',
      );
      assert.doesNotMatch(await curl(['http://127.0.0.1:9090/_haproxy_getconfig']), /new\.test/);
    } finally {
      await writeFile(cert, saved);
    }
    lb.proc.kill('SIGHUP');
    await eventually(async () => assert.match(await get('/', 'new.test'), /^web\.8001\n/), 10_000, 200);
  },
);

test(
  'dcnet lb killed outright: the next one takes over from the HAProxy it left',
  { skip: NEEDS_ROOT },
  async () => {
    const pids = (await curl(['http://127.0.0.1:9090/_haproxy_getpids'])).split(' ').map(Number);
    lb.proc.kill('SIGKILL');
    await lb.exited;
    assert.match(await get('/', 'web.test'), /^web\./, 'the orphaned HAProxy still serves');
    lb = tb.spawn(host.netns, process.execPath, lbArgs);
    await eventually(
      async () => {
        const now = (await curl(['http://127.0.0.1:9090/_haproxy_getpids'])).split(' ').map(Number);
        assert.ok(now.length >= 2 && !now.includes(pids[0]!), `${now} vs ${pids}`);
      },
      20_000,
      250,
    );
    assert.match(await get('/', 'web.test'), /^web\./);
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await eventually(async () => assert.equal(alive(pids[0]!), false), 10_000, 200);
  },
);

test(
  'a Marathon-LB HAPROXY_HEAD with its own socket and state file works, Runtime API included',
  { skip: NEEDS_ROOT },
  async () => {
    await lb.stop();
    const d = join(dir, 'mlbhead');
    const head = [
      'global',
      '  maxconn 4096',
      `  stats socket ${d}/socket mode 600 level admin expose-fd listeners`,
      '  server-state-file global',
      `  server-state-base ${d}/state/`,
      'defaults',
      '  load-server-state-from-file global',
      '  timeout connect 3s',
      '  timeout client 30s',
      '  timeout server 30s',
      '  option redispatch',
      'listen stats',
      '  bind 0.0.0.0:9090',
      '  mode http',
      '  stats enable',
      '  monitor-uri /_haproxy_health_check',
    ].join('\\n');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(d, 'state'), { recursive: true });
    await setApps([app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8001])], false);
    lb = tb.spawn(
      host.netns,
      process.execPath,
      [...lbArgs.slice(0, -4), '--haproxy-config', join(d, 'haproxy.cfg')],
      {
        env: { ...process.env, HAPROXY_HEAD: head },
      },
    );
    await eventually(
      async () => assert.deepEqual(await answering('web.test', 3), new Set(['web.8001'])),
      20_000,
      250,
    );
    const st = async () =>
      JSON.parse(await curl(['http://127.0.0.1:9089/_dcnet/status'])) as {
        reloads: number;
        reloadsAvoided: number;
      };
    const before = await st();
    await setApps([app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8001, 8002])]);
    await eventually(async () => assert.ok((await answering('web.test', 8)).has('web.8002')), 10_000, 200);
    const after = await st();
    assert.equal(after.reloads, before.reloads);
    assert.equal(after.reloadsAvoided, before.reloadsAvoided + 1);
  },
);

test(
  '--haproxy-map: vhosts and app ids routed through map files that HAProxy loads',
  { skip: NEEDS_ROOT },
  async () => {
    await lb.stop();
    const d = join(dir, 'maps');
    await setApps(
      [
        app('/web', 10001, { HAPROXY_0_VHOST: 'web.test,www.test' }, [8001]),
        app('/other', 10002, { HAPROXY_0_VHOST: 'other.test' }, [8003]),
      ],
      false,
    );
    lb = tb.spawn(host.netns, process.execPath, [
      ...lbArgs.slice(0, -4),
      '--haproxy-config',
      join(d, 'haproxy.cfg'),
      '--haproxy-map',
    ]);
    await eventually(
      async () => assert.deepEqual(await answering('www.test', 2), new Set(['web.8001'])),
      20_000,
      250,
    );
    assert.deepEqual(await answering('other.test', 2), new Set(['web.8003']));
    assert.equal(
      await curl(['http://127.0.0.1:9090/_haproxy_getvhostmap']),
      'other.test other_10002\nweb.test web_10001\nwww.test web_10001\n',
    );
    assert.equal(
      await curl(['http://127.0.0.1:9090/_haproxy_getappmap']),
      '/other other_10002\n/web web_10001\n',
    );
    assert.match(await curl(['-H', 'X-Marathon-App-Id: /other', 'http://127.0.0.1:9091/']), /^web\.8003\n/);
    // A new vhost changes only the map: validated with the new map, then reloaded.
    await setApps([
      app('/web', 10001, { HAPROXY_0_VHOST: 'web.test,www.test,new.test' }, [8001]),
      app('/other', 10002, { HAPROXY_0_VHOST: 'other.test' }, [8003]),
    ]);
    await eventually(async () => assert.match(await get('/', 'new.test'), /^web\.8001\n/), 10_000, 200);
  },
);

test(
  '--group-https-by-vhost: TLS per vhost behind an SNI splitter on :443',
  { skip: NEEDS_ROOT },
  async () => {
    await lb.stop();
    const d = join(dir, 'grouped');
    await setApps(
      [
        app('/web', 10001, { HAPROXY_0_VHOST: 'web.test' }, [8001]),
        app('/other', 10002, { HAPROXY_0_VHOST: 'other.test' }, [8003]),
      ],
      false,
    );
    lb = tb.spawn(host.netns, process.execPath, [
      ...lbArgs.slice(0, -4),
      '--haproxy-config',
      join(d, 'haproxy.cfg'),
      '--group-https-by-vhost',
    ]);
    const tls = (name: string) => curl(['-k', '--resolve', `${name}:443:127.0.0.1`, `https://${name}/`]);
    await eventually(async () => assert.match(await tls('web.test'), /^web\.8001\n/), 20_000, 250);
    assert.match(await tls('other.test'), /^web\.8003\n/);
    assert.match(await get('/', 'other.test'), /^web\.8003\n/);
  },
);

test('--dry prints the config for the current state and starts nothing', { skip: NEEDS_ROOT }, async () => {
  await setApps([app('/web', 10001, { HAPROXY_0_VHOST: 'dry.test' }, [8001])], false);
  const d = await tempDir('l7-dry');
  const { stdout } = await tb.exec(host.netns, process.execPath, [
    DCNET,
    'lb',
    '--dry',
    '--marathon',
    'http://127.0.0.1:8080',
    '--group',
    'external',
    '--haproxy-config',
    join(d, 'h.cfg'),
  ]);
  assert.match(stdout, /^global\n/);
  assert.match(stdout, /acl host_dry_test_web hdr\(host\) -i dry\.test\n/);
  assert.match(stdout, /server 127_0_0_1_8001 127\.0\.0\.1:8001 id \d+ check inter 1s fall 3\n/);
  const { readdir } = await import('node:fs/promises');
  assert.deepEqual(await readdir(d), []);
});

test(
  'bad usage exits 2 naming the option; an unusable HAPROXY_HEAD is refused',
  { skip: NEEDS_ROOT },
  async () => {
    const { runDcnet } = await import('../helpers/process.js');
    const noGroup = await runDcnet(['lb', '--marathon', 'http://127.0.0.1:1']);
    assert.equal(noGroup.code, 2);
    assert.match(noGroup.stderr, /--group/);
    const badUrl = await runDcnet(['lb', '--marathon', 'ftp://x', '--group', 'external']);
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /--marathon: "ftp:\/\/x"/);
    const d = await tempDir('l7-head');
    const head = await runDcnet(
      [
        'lb',
        '--marathon',
        'http://127.0.0.1:1',
        '--group',
        'x',
        '--haproxy-config',
        join(d, 'h.cfg'),
        '--api-listen',
        '127.0.0.1:0',
      ],
      {
        env: { ...process.env, HAPROXY_HEAD: 'global\\n  daemon\\n' },
      },
    );
    assert.equal(head.code, 2);
    assert.match(head.stderr, /HAPROXY_HEAD/);
  },
);
