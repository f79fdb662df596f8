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

test('Marathon-LB endpoints', async () => {
  const { ctl, haproxy, calls } = fakes();
  const app = lbApi(ctl, haproxy, pino({ level: 'silent' }));
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

test('with an admin token the signal endpoints need it', async () => {
  const { ctl, haproxy, calls } = fakes();
  const app = lbApi(ctl, haproxy, pino({ level: 'silent' }), 's3cret');
  assert.equal((await app.inject('/_mlb_signal/hup')).statusCode, 401);
  assert.equal(
    (await app.inject({ url: '/_mlb_signal/usr1', headers: { authorization: 'Bearer nope' } })).statusCode,
    401,
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
