// Tenant-controlled Marathon-LB labels are validated before they do anything: every label the
// controller reads (the tables in src/l7lb/labels.ts, iterated here, so a new label must bring its
// samples) refuses control characters and values outside its grammar by leaving that one app out
// with an error naming the app, the label and the reason, while the other apps are still served.
// Template labels need the operator's flag; Marathon fields that reach the config have grammars too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  APP_LABELS,
  buildServices,
  parseApps,
  PORT_LABELS,
  renderConfig,
  TEMPLATE_LABELS,
  Templater,
  type AppLabelName,
  type MarathonApp,
  type PortLabelName,
} from '../../src/l7lb/index.js';

interface Sample {
  /** A value inside the grammar (rendered without error). */
  readonly valid: string;
  /** Values outside it. */
  readonly bad: readonly string[];
  /** Other labels the label needs to reach the config (a path needs a vhost). */
  readonly with?: Record<string, string>;
}

const VHOST = { HAPROXY_0_VHOST: 'victim.test' };

const PORT_SAMPLES: Record<PortLabelName, Sample> = {
  GROUP: { valid: 'external', bad: ['ext ernal', 'a,,b', 'a;b'] },
  ENABLED: { valid: 'true', bad: ['maybe', 'on'] },
  VHOST: { valid: 'victim.test', bad: ['victim.test other.test', 'a..b', 'x{y}.test', '*.test', 'a.test#'] },
  BACKEND_WEIGHT: { valid: '5', bad: ['five', '1e3', '99999999999'], with: VHOST },
  PATH: { valid: '-i /p /q', bad: ['p', '/p#x', '-f /etc/passwd', '/a b"', "/a'", '-m reg .*'], with: VHOST },
  PORT: { valid: '12000', bad: ['0', '70000', 'eighty'] },
  BIND_ADDR: { valid: '127.0.0.1', bad: ['127.0.0.1:80', 'localhost', '1.2.3.4 ssl'] },
  BIND_OPTIONS: {
    valid: 'maxconn 100 no-tlsv10',
    bad: ['crt /etc/ssl/private/other.pem', 'maxconn', 'accept-proxy ca-file /x', 'name a;b', 'process 1'],
  },
  SSL_CERT: { valid: '/etc/ssl/cert.pem', bad: ['cert.pem', '/etc/../shadow', '/etc/ssl/a b.pem', '/x,/y'] },
  MODE: { valid: 'tcp', bad: ['udp', 'http tcp'] },
  BALANCE: { valid: 'url_param userid', bad: ['nonsense', 'leastconn if TRUE', 'hdr(a b)'] },
  STICKY: { valid: 'true', bad: ['sure'] },
  REDIRECT_TO_HTTPS: { valid: 'true', bad: ['1'], with: VHOST },
  USE_HSTS: { valid: 'yes', bad: ['si'], with: VHOST },
  AUTH: {
    valid: 'realm:user:$5$salt$hash',
    bad: ['no-colons', 'r:u:p a', 'r"x:u:p', 'r:u:p#', 'r:u'],
    with: VHOST,
  },
  HTTP_BACKEND_PROXYPASS_PATH: { valid: '/x/', bad: ['x', '/x%2f', '/(.*)'], with: VHOST },
  HTTP_BACKEND_REVPROXY_PATH: { valid: '/y', bad: ['/y\\3', '/%[env(HOME)]'], with: VHOST },
  HTTP_BACKEND_REDIR: {
    valid: '/z?a=b',
    bad: ['/z%[req.hdr(cookie)]', 'javascript:alert(1)', '/z#', 'z'],
    with: VHOST,
  },
  BACKEND_NETWORK_ALLOWED_ACL: {
    valid: '10.0.0.0/8 192.0.2.7',
    bad: ['10.0.0.0/33', 'any', '10.0.0.0/8,192.0.2.0/24', '10.0.0.0/8 if TRUE'],
  },
  BACKEND_HEALTHCHECK_PORT_INDEX: { valid: '0', bad: ['x', '5000'] },
  SERVER_WEIGHT: { valid: '7', bad: ['300', '-1', 'heavy'] },
};

const APP_SAMPLES: Record<AppLabelName, Sample> = {
  HAPROXY_GROUP: { valid: 'external', bad: ['ext ernal', 'a,,b'] },
  HAPROXY_DEPLOYMENT_GROUP: { valid: 'victim-g', bad: ['Victim', 'a b', '../x', 'x/'] },
  HAPROXY_DEPLOYMENT_STARTED_AT: { valid: '2020-01-02T00:00:00.123Z', bad: ['yesterday', '2020-01-02'] },
  HAPROXY_DEPLOYMENT_TARGET_INSTANCES: { valid: '3', bad: ['three', '-1'] },
  HAPROXY_DEPLOYMENT_NEW_INSTANCES: { valid: '1', bad: ['x'] },
};

/** Control characters, each appended to a valid value together with a config line. */
const CONTROLS = ['\n', '\r', '\0', '\t', '\v', '\f', '\x1b', '\x7f', '\u0085', '\u009b'];
const INJECTED = '  http-request deny # INJECTED';

function app(id: string, port: number, labels: Record<string, string>): MarathonApp {
  return {
    id,
    portDefinitions: [{ port }],
    labels: { HAPROXY_GROUP: 'external', ...labels },
    healthChecks: [{ protocol: 'HTTP', path: '/', portIndex: 0 }],
    tasks: [
      { id: `${id.slice(1)}.1`, host: '192.0.2.1', ports: [31000 + port - 10000], state: 'TASK_RUNNING' },
    ],
  };
}

const bystander = app('/bystander', 10001, { HAPROXY_0_VHOST: 'bystander.test' });

function renderWith(labels: Record<string, string>, templateLabels = false) {
  const apps = [app('/victim', 10000, labels), bystander];
  const built = buildServices(apps, { templateLabels });
  const r = renderConfig(built.services, new Templater({ labelTemplates: templateLabels }), {
    groups: ['external'],
    head: 'HEAD\n',
    keepEmpty: true,
  });
  return { text: r.text, errors: [...built.errors, ...r.errors] };
}

function assertVictimOut(labels: Record<string, string>, label: string, reason: RegExp): void {
  const { text, errors } = renderWith(labels);
  const what = JSON.stringify(labels);
  assert.doesNotMatch(text, /victim|INJECTED/, `${what} reached the config`);
  assert.match(text, /backend bystander_10001\n/, `${what} took the bystander down`);
  assert.equal(errors.length, 1, `${what}: ${JSON.stringify(errors)}`);
  assert.equal(errors[0]!.appId.startsWith('/victim'), true, what);
  assert.ok(errors[0]!.error.startsWith(`label ${label}: `), `${what}: ${errors[0]!.error}`);
  assert.match(errors[0]!.error, reason, what);
}

test('every label table has samples (a new label must bring its own attack cases)', () => {
  assert.deepEqual(Object.keys(PORT_SAMPLES).sort(), Object.keys(PORT_LABELS).sort());
  assert.deepEqual(Object.keys(APP_SAMPLES).sort(), Object.keys(APP_LABELS).sort());
  // A value label and a template label never share a name.
  for (const name of Object.keys(PORT_LABELS)) assert.equal(TEMPLATE_LABELS.has(name), false, name);
});

test('per-port labels: control characters and out-of-grammar values leave that app out, named', () => {
  for (const [name, sample] of Object.entries(PORT_SAMPLES)) {
    const key = `HAPROXY_0_${name}`;
    const ok = renderWith({ ...sample.with, [key]: sample.valid });
    assert.deepEqual(ok.errors, [], `${key}=${sample.valid}`);
    assert.match(ok.text, /victim/, `${key}=${sample.valid} should render`);
    for (const c of CONTROLS)
      assertVictimOut(
        { ...sample.with, [key]: `${sample.valid}${c}${INJECTED}` },
        key,
        /control character U\+00/,
      );
    for (const bad of sample.bad) assertVictimOut({ ...sample.with, [key]: bad }, key, /./);
  }
});

test('app labels: control characters and out-of-grammar values leave that app out, named', () => {
  for (const [name, sample] of Object.entries(APP_SAMPLES)) {
    const ok = renderWith({ ...sample.with, [name]: sample.valid });
    assert.deepEqual(ok.errors, [], `${name}=${sample.valid}`);
    assert.match(ok.text, /victim/, `${name}=${sample.valid} should render`);
    for (const c of CONTROLS)
      assertVictimOut({ [name]: `${sample.valid}${c}${INJECTED}` }, name, /control character U\+00/);
    for (const bad of sample.bad) assertVictimOut({ [name]: bad }, name, /./);
  }
});

test('values are written back canonically; the grammar reasons say what is expected', () => {
  const { text } = renderWith({
    HAPROXY_0_VHOST: 'Victim.Test',
    HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL: '10.0.0.0/8   fd00:0::1',
    HAPROXY_0_BIND_OPTIONS: 'maxconn  100',
  });
  assert.match(text, /hdr\(host\) -i victim\.test\n/);
  assert.match(text, /acl network_allowed src fd00::1\n/);
  assert.match(text, /bind \*:10000 maxconn 100\n/);
  const reason = (labels: Record<string, string>): string => renderWith(labels).errors[0]!.error;
  assert.equal(
    reason({ HAPROXY_0_BIND_OPTIONS: 'crt /etc/ssl/other.pem' }),
    'label HAPROXY_0_BIND_OPTIONS: bind option "crt" is not allowed in a label',
  );
  assert.equal(
    reason({ HAPROXY_0_VHOST: 'a.test\nbind :1' }),
    'label HAPROXY_0_VHOST: contains the control character U+000A',
  );
  assert.equal(
    reason({ HAPROXY_0_PATH: '-f /etc/passwd', ...VHOST }),
    'label HAPROXY_0_PATH: flag "-f" is not allowed (only -i and -m)',
  );
  assert.equal(reason({ HAPROXY_0_PORT: '70000' }), 'label HAPROXY_0_PORT: 70000 is not a port (1-65535)');
});

test('template labels: refused without the operator flag, used with it', () => {
  const override = {
    HAPROXY_0_BACKEND_HEAD: '\nbackend {backend}\n  balance {balance}\n  mode {mode}\n  # OVERRIDDEN\n',
  };
  for (const name of TEMPLATE_LABELS) {
    const key = `HAPROXY_0_${name}`;
    assertVictimOut(
      { [key]: '  # OVERRIDDEN\n' },
      key,
      /template labels are turned off .*--allow-template-labels/,
    );
  }
  const on = renderWith(override, true);
  assert.deepEqual(on.errors, []);
  assert.match(on.text, /backend victim_10000\n {2}balance roundrobin\n {2}mode http\n {2}# OVERRIDDEN\n/);
  // With the flag, template text may span lines but carries no other control characters.
  const nul = renderWith({ HAPROXY_0_BACKEND_HEAD: '\nbackend {backend}\0\n' }, true);
  assert.match(
    nul.errors[0]!.error,
    /^label HAPROXY_0_BACKEND_HEAD: contains the control character U\+0000$/,
  );
  assert.match(nul.text, /backend bystander_10001\n/);
});

test('Marathon fields that reach the config have grammars: the app is left out, the field named', () => {
  const good = {
    id: '/good',
    tasks: [{ id: 'g.1', host: 'agent-1.example', ipAddresses: [{ ipAddress: '9.0.0.2' }] }],
  };
  const parsed = parseApps({
    apps: [
      good,
      { id: '/bad\n  bind :1' },
      { id: '/Upper' },
      { id: '/h', tasks: [{ id: 'h.1', host: 'agent\n  server x 1.2.3.4:5' }] },
      { id: '/ip', tasks: [{ id: 'ip.1', host: 'a', ipAddresses: [{ ipAddress: '9.0.0.2:80 backup' }] }] },
      { id: '/hc', healthChecks: [{ protocol: 'HTTP', path: '/health\n  bind :1' }] },
      { id: '/hcp', healthChecks: [{ protocol: 'HTTP\n' }] },
    ],
  });
  assert.deepEqual(
    parsed.apps.map((a) => a.id),
    ['/good'],
  );
  assert.deepEqual(parsed.errors, [
    'app #1: field "id": is not a Marathon app id (/ and lower-case a-z0-9.-)',
    'app #2: field "id": is not a Marathon app id (/ and lower-case a-z0-9.-)',
    'app /h: field "tasks.0.host": is not a host name or IP address',
    'app /ip: field "tasks.0.ipAddresses.0.ipAddress": is not an IP address',
    'app /hc: field "healthChecks.0.path": is not a URL path',
    'app /hcp: field "healthChecks.0.protocol": is not a health-check protocol',
  ]);
});
