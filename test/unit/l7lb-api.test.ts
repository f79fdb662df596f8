// The controller's HTTP API: Marathon-LB's endpoint answers, and the optional admin token that
// guards the signal endpoints (Marathon-LB left them open to anyone who reaches :9090).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createLbMetrics, lbApi, type Haproxy, type LbController } from '../../src/l7lb/index.js';

function fakes() {
  const calls: string[] = [];
  const ctl = {
    metrics: createLbMetrics(),
    status: { excluded: [], reloads: 1, reloadsAvoided: 2, pendingRemovals: 0 },
    configText: 'global\n',
    maps: { domain: 'a.test web_10000\n', app: '' },
    requestReset: () => calls.push('reset'),
    requestReload: () => calls.push('reload'),
  } as unknown as LbController;
  const haproxy = { running: true, pids: async () => [10, 11] } as unknown as Haproxy;
  return { ctl, haproxy, calls };
}

test('Marathon-LB endpoints (signals opened explicitly, as Marathon-LB had them)', async () => {
  const { ctl, haproxy, calls } = fakes();
  const app = lbApi(ctl, haproxy, pino({ level: 'silent' }), 'open');
  assert.equal((await app.inject('/_haproxy_getconfig')).body, 'global\n');
  assert.equal((await app.inject('/_haproxy_getvhostmap')).body, 'a.test web_10000\n');
  assert.equal((await app.inject('/_haproxy_getappmap')).body, '');
  assert.equal((await app.inject('/_haproxy_getpids')).body, '10 11');
  assert.equal((await app.inject('/_haproxy_health_check')).statusCode, 200);
  assert.equal((await app.inject('/_mlb_signal/hup')).body, 'Sent SIGHUP signal to marathon-lb\n');
  assert.equal((await app.inject({ method: 'POST', url: '/_mlb_signal/usr1' })).statusCode, 200);
  assert.deepEqual(calls, ['reset', 'reload']);
  assert.match((await app.inject('/metrics')).body, /dcnet_lb_reloads_total/);
  assert.equal(JSON.parse((await app.inject('/_dcnet/status')).body).reloadsAvoided, 2);
  await app.close();
});

test('by default the signal endpoints are refused over HTTP; the read endpoints stay', async () => {
  const { ctl, haproxy, calls } = fakes();
  const app = lbApi(ctl, haproxy, pino({ level: 'silent' }));
  for (const url of ['/_mlb_signal/hup', '/_mlb_signal/usr1']) {
    for (const method of ['GET', 'POST'] as const) {
      const r = await app.inject({ method, url, headers: { authorization: 'Bearer anything' } });
      assert.equal(r.statusCode, 403, `${method} ${url}`);
      assert.match(r.body, /--admin-token-file/);
    }
  }
  assert.deepEqual(calls, [], 'nothing was resynced or reloaded');
  assert.equal((await app.inject('/_haproxy_getconfig')).statusCode, 200);
  await app.close();
});

test('with an admin token the signal endpoints need it', async () => {
  const { ctl, haproxy, calls } = fakes();
  const app = lbApi(ctl, haproxy, pino({ level: 'silent' }), { token: 's3cret' });
  assert.equal((await app.inject('/_mlb_signal/hup')).statusCode, 401);
  assert.equal(
    (await app.inject({ url: '/_mlb_signal/usr1', headers: { authorization: 'Bearer nope' } })).statusCode,
    401,
  );
  assert.equal(
    (await app.inject({ url: '/_mlb_signal/usr1', headers: { authorization: 'Bearer s3cre' } })).statusCode,
    401,
    'a prefix of the token is not the token',
  );
  assert.deepEqual(calls, []);
  const ok = await app.inject({ url: '/_mlb_signal/hup', headers: { authorization: 'Bearer s3cret' } });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(calls, ['reset']);
  assert.equal((await app.inject('/_haproxy_getconfig')).statusCode, 200, 'read endpoints stay open');
  await app.close();
});

test('a Marathon-LB HAPROXY_HEAD must suit master-worker mode and offer an admin socket', async () => {
  const { effectiveHead, HeadError, Templater } = await import('../../src/l7lb/index.js');
  const o = {
    statsSocket: '/s',
    serverStateFile: '/t',
    statsBind: '0.0.0.0:9090',
    apiAddr: '127.0.0.1:9089',
  };
  const head = (text: string) => effectiveHead(new Templater({ env: { HAPROXY_HEAD: text } }), o, {});
  assert.throws(
    () => head('global\\n  daemon\\n  stats socket /x level admin expose-fd listeners\\n'),
    HeadError,
  );
  assert.throws(() => head('global\\n  stats socket /x level admin\\n'), /expose-fd listeners/);
  assert.match(head('global\\n  stats socket /x level admin expose-fd listeners\\n'), /^global\n/);
  assert.match(
    effectiveHead(new Templater(), o, {}),
    /stats socket \/s mode 600 level admin expose-fd listeners/,
  );
});

test('/_haproxy_getconfig never shows userlist password hashes or stats credentials', async () => {
  const { buildServices, renderConfig, Templater } = await import('../../src/l7lb/index.js');
  const hash = '$6$rounds=5000$saltsalt$AbCdEf0123456789./xyz';
  const apps = [
    {
      id: '/secret',
      portDefinitions: [{ port: 10000 }],
      labels: { HAPROXY_GROUP: 'external', HAPROXY_0_VHOST: 's.test', HAPROXY_0_AUTH: `realm:alice:${hash}` },
      tasks: [{ id: 's.1', host: '192.0.2.1', ports: [31000] }],
    },
  ];
  const rendered = renderConfig(buildServices(apps).services, new Templater(), {
    groups: ['external'],
    head: 'global\nlisten stats\n  stats auth admin:hunter2\n',
  }).text;
  assert.ok(rendered.includes(hash), 'the hash is in the config HAProxy loads');
  const { haproxy } = fakes();
  const ctl = { configText: rendered, maps: { domain: '', app: '' } } as unknown as LbController;
  const app = lbApi(ctl, haproxy, pino({ level: 'silent' }));
  const shown = (await app.inject('/_haproxy_getconfig')).body;
  assert.doesNotMatch(shown, /saltsalt|hunter2/);
  assert.match(shown, /^ {2}user alice password <redacted>$/m);
  assert.match(shown, /^ {2}stats auth admin:<redacted>$/m);
  assert.match(shown, /userlist user_secret_10000\n/);
  await app.close();
});

test('HAProxy workers drop to a user and chroot; an operator head gets the lines it lacks', async () => {
  const { defaultHead, effectiveHead, HeadError, isolationOf, Templater, withIsolation } =
    await import('../../src/l7lb/index.js');
  const o = {
    statsSocket: '/s',
    serverStateFile: '/t',
    statsBind: '0.0.0.0:9090',
    apiAddr: '127.0.0.1:9089',
  };
  const isolation = isolationOf({});
  assert.deepEqual(isolation, { user: 'haproxy', group: 'haproxy', chroot: '/var/lib/haproxy' });
  assert.match(
    defaultHead({ ...o, isolation }, []),
    /^global\n {2}user haproxy\n {2}group haproxy\n {2}chroot \/var\/lib\/haproxy\n/,
  );
  assert.deepEqual(isolationOf({ haproxyUser: '', haproxyChroot: '' }), {});
  assert.deepEqual(isolationOf({ haproxyUser: 'lb', haproxyChroot: '/srv/empty' }), {
    user: 'lb',
    group: 'lb',
    chroot: '/srv/empty',
  });
  assert.throws(() => isolationOf({ haproxyUser: 'root\n  daemon' }), HeadError);
  assert.throws(() => isolationOf({ haproxyChroot: 'relative' }), /--haproxy-chroot/);
  const operator = 'global\n  uid 200\n  stats socket /x level admin expose-fd listeners\n';
  assert.equal(
    withIsolation(operator, isolation),
    'global\n  group haproxy\n  chroot /var/lib/haproxy\n  uid 200\n  stats socket /x level admin expose-fd listeners\n',
  );
  const head = effectiveHead(
    new Templater({ env: { HAPROXY_HEAD: operator.replace(/\n/g, '\\n') } }),
    { ...o, isolation },
    {},
  );
  assert.match(head, /^global\n {2}group haproxy\n {2}chroot \/var\/lib\/haproxy\n {2}uid 200\n/);
});
