// Marathon-LB conformance: the golden cases of its upstream tests (tests/test_marathon_lb.py as
// specs/marathon-lb.md §2.2–§2.5 quote them), run through dcnet's services pipeline and renderer.
// Where dcnet deliberately differs (HAProxy 2.6 directives instead of rspadd/reqirep/rspirep),
// the assertion says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildServices,
  parseApps,
  renderConfig,
  Templater,
  type MarathonApp,
  type RenderOptions,
  type ServiceOptions,
} from '../../src/l7lb/index.js';

const HC_HTTP = {
  path: '/',
  protocol: 'HTTP',
  portIndex: 0,
  gracePeriodSeconds: 10,
  intervalSeconds: 2,
  timeoutSeconds: 10,
  maxConsecutiveFailures: 10,
};
const HOSTS = new Map([
  ['agent1', '192.0.2.1'],
  ['agent2', '10.0.0.2'],
]);

interface AppSpec {
  id?: string;
  ports?: number[];
  labels?: Record<string, string>;
  hc?: Record<string, unknown>[] | undefined;
  tasks?: { host: string; ports: number[]; id?: string; state?: string; alive?: boolean }[];
}

function app(spec: AppSpec): MarathonApp {
  const id = spec.id ?? '/nginx';
  return {
    id,
    portDefinitions: (spec.ports ?? [10000]).map((port) => ({ port })),
    labels: { HAPROXY_GROUP: 'external', ...spec.labels },
    healthChecks: spec.hc ?? [HC_HTTP],
    tasks: (spec.tasks ?? [{ host: 'agent1', ports: [1024] }]).map((t, i) => ({
      id: t.id ?? `${id.slice(1)}.t${i}`,
      host: t.host,
      ports: t.ports,
      state: t.state ?? 'TASK_RUNNING',
      ...(t.alive !== undefined && { healthCheckResults: [{ alive: t.alive }] }),
    })),
  };
}

function render(
  apps: MarathonApp[],
  o: Partial<RenderOptions> = {},
  so: ServiceOptions = {},
  env: Record<string, string> = {},
): { body: string; errors: { appId: string; error: string }[] } {
  const { services, errors } = buildServices(apps, { hosts: HOSTS, ...so });
  const t = new Templater({ env, labelTemplates: so.templateLabels === true });
  const r = renderConfig(services, t, { groups: ['external'], head: 'HEAD\n', ...o });
  assert.ok(r.text.startsWith('HEAD\n'));
  return { body: r.text.slice('HEAD\n'.length), errors: [...errors, ...r.errors] };
}

const block = (body: string, header: string): string => {
  const start = body.indexOf(`\n${header}\n`);
  assert.ok(start >= 0, `no "${header}" in:\n${body}`);
  const end = body.indexOf('\n\n', start + 1);
  return body.slice(start + 1, end < 0 ? undefined : end).replace(/\n$/, '');
};
const lines = (...l: string[]): string => l.join('\n');

test('no apps: the three shared frontends, default certificate', () => {
  const { body } = render([]);
  assert.equal(
    body,
    lines(
      '',
      'frontend marathon_http_in',
      '  bind *:80',
      '  mode http',
      '',
      'frontend marathon_http_appid_in',
      '  bind *:9091',
      '  mode http',
      '',
      'frontend marathon_https_in',
      '  bind *:443 ssl crt /etc/ssl/cert.pem',
      '  mode http',
      '',
    ),
  );
  const two = render([], { sslCerts: ['/etc/haproxy/mysite1.com.pem', '/etc/haproxy/mysite2.com.pem'] }).body;
  assert.match(
    two,
    /\n {2}bind \*:443 ssl crt \/etc\/haproxy\/mysite1.com.pem crt \/etc\/haproxy\/mysite2.com.pem\n/,
  );
  assert.match(
    render([], { sslCerts: ['/etc/haproxy/mysite.com.pem'] }).body,
    /bind \*:443 ssl crt \/etc\/haproxy\/mysite.com.pem\n/,
  );
});

test('env template override replaces the :80 head verbatim', () => {
  const { body } = render(
    [],
    {},
    {},
    { HAPROXY_HTTP_FRONTEND_HEAD: '\\nfrontend changed\\n  bind *:8080\\n' },
  );
  assert.match(body, /^\nfrontend changed\n {2}bind \*:8080\n/);
});

test('Case A: simple HTTP app', () => {
  const { body } = render([app({})]);
  assert.equal(
    block(body, 'frontend marathon_http_appid_in'),
    lines(
      'frontend marathon_http_appid_in',
      '  bind *:9091',
      '  mode http',
      '  acl app__nginx hdr(x-marathon-app-id) -i /nginx',
      '  use_backend nginx_10000 if app__nginx',
    ),
  );
  assert.equal(
    block(body, 'frontend nginx_10000'),
    lines('frontend nginx_10000', '  bind *:10000', '  mode http', '  use_backend nginx_10000'),
  );
  assert.equal(
    block(body, 'backend nginx_10000'),
    lines(
      'backend nginx_10000',
      '  balance roundrobin',
      '  mode http',
      '  option forwardfor',
      '  http-request set-header X-Forwarded-Port %[dst_port]',
      '  http-request add-header X-Forwarded-Proto https if { ssl_fc }',
      '  option  httpchk GET /',
      '  timeout check 10s',
      '  server agent1_192_0_2_1_1024 192.0.2.1:1024 id 18199 check inter 2s fall 11',
    ),
  );
  assert.equal(
    block(body, 'frontend marathon_http_in'),
    lines('frontend marathon_http_in', '  bind *:80', '  mode http'),
  );
});

test('Case A variants: COMMAND and TCP health checks', () => {
  const cmd = render([app({ hc: [{ ...HC_HTTP, protocol: 'COMMAND' }] })]).body;
  assert.match(cmd, /frontend nginx_10000\n {2}bind \*:10000\n {2}mode tcp\n/);
  assert.match(
    cmd,
    /backend nginx_10000\n {2}balance roundrobin\n {2}mode tcp\n {2}server agent1_192_0_2_1_1024 192.0.2.1:1024 id 18199 check inter 2s fall 11\n/,
  );
  assert.doesNotMatch(cmd, /app__nginx|httpchk/);
  const tcp = render([
    app({ hc: [{ ...HC_HTTP, protocol: 'TCP' }], labels: { HAPROXY_0_VHOST: 'test.example.com' } }),
  ]).body;
  assert.match(tcp, /backend nginx_10000\n {2}balance roundrobin\n {2}mode http\n/);
  assert.doesNotMatch(tcp, /httpchk|timeout check/);
  assert.match(tcp, /id 18199 check inter 2s fall 11\n/);
});

test('Case B: vhost and redirect, single and multiple vhosts', () => {
  const single = render([
    app({ labels: { HAPROXY_0_VHOST: 'test.example.com', HAPROXY_0_REDIRECT_TO_HTTPS: 'true' } }),
  ]).body;
  assert.equal(
    block(single, 'frontend marathon_http_in'),
    lines(
      'frontend marathon_http_in',
      '  bind *:80',
      '  mode http',
      '  acl host_test_example_com_nginx hdr(host) -i test.example.com',
      '  use_backend nginx_10000 if host_test_example_com_nginx',
      '  redirect scheme https code 301 if !{ ssl_fc } host_test_example_com_nginx',
    ),
  );
  assert.equal(
    block(single, 'frontend marathon_https_in'),
    lines(
      'frontend marathon_https_in',
      '  bind *:443 ssl crt /etc/ssl/cert.pem',
      '  mode http',
      '  use_backend nginx_10000 if { ssl_fc_sni test.example.com }',
    ),
  );
  const multiApp = app({
    labels: { HAPROXY_0_VHOST: 'test.example.com,test', HAPROXY_0_REDIRECT_TO_HTTPS: 'true' },
    tasks: [{ host: 'agent1', ports: [1234] }],
  });
  const multi = render([multiApp], {}, { hosts: new Map([['agent1', '192.0.2.1']]) }).body;
  assert.equal(
    block(multi, 'frontend marathon_http_in'),
    lines(
      'frontend marathon_http_in',
      '  bind *:80',
      '  mode http',
      '  acl host_test_example_com_nginx hdr(host) -i test.example.com',
      '  acl host_test_example_com_nginx hdr(host) -i test',
      '  redirect scheme https code 301 if !{ ssl_fc } host_test_example_com_nginx',
    ),
  );
  assert.match(
    multi,
    /use_backend nginx_10000 if \{ ssl_fc_sni test.example.com \}\n {2}use_backend nginx_10000 if \{ ssl_fc_sni test \}\n/,
  );
  assert.match(multi, /server agent1_192_0_2_1_1234 192.0.2.1:1234 id 15582 /);
  const noRedirect = render([app({ labels: { HAPROXY_0_VHOST: 'test.example.com,test' } })]).body;
  assert.match(
    block(noRedirect, 'frontend marathon_http_in'),
    /-i test.example.com\n {2}acl host_test_example_com_nginx hdr\(host\) -i test\n {2}use_backend nginx_10000 if host_test_example_com_nginx$/,
  );
});

test('Case C: vhost, path and basic auth', () => {
  const { body } = render([
    app({
      labels: {
        HAPROXY_0_VHOST: 'test.example.com',
        HAPROXY_0_PATH: '/some/path',
        HAPROXY_0_AUTH: 'realm:testuser:testpasswd',
      },
    }),
  ]);
  assert.ok(
    body.startsWith(
      '\nuserlist user_nginx_10000\n  user testuser password testpasswd\n\nfrontend marathon_http_in\n',
    ),
  );
  assert.equal(
    block(body, 'frontend marathon_http_in'),
    lines(
      'frontend marathon_http_in',
      '  bind *:80',
      '  mode http',
      '  acl host_test_example_com_nginx hdr(host) -i test.example.com',
      '  acl auth_test_example_com_nginx http_auth(user_nginx_10000)',
      '  acl path_nginx_10000 path_beg /some/path',
      '  http-request auth realm "realm" if host_test_example_com_nginx path_nginx_10000 !auth_test_example_com_nginx',
      '  use_backend nginx_10000 if host_test_example_com_nginx path_nginx_10000',
    ),
  );
  assert.equal(
    block(body, 'frontend marathon_https_in'),
    lines(
      'frontend marathon_https_in',
      '  bind *:443 ssl crt /etc/ssl/cert.pem',
      '  mode http',
      '  acl path_nginx_10000 path_beg /some/path',
      '  acl auth_test_example_com_nginx http_auth(user_nginx_10000)',
      '  http-request auth realm "realm" if { ssl_fc_sni test.example.com } path_nginx_10000 !auth_test_example_com_nginx',
      '  use_backend nginx_10000 if { ssl_fc_sni test.example.com } path_nginx_10000',
    ),
  );
});

test('vhost variants: auth, path, multi-vhost with path (+auth), path + redirect', () => {
  const auth = render([
    app({ labels: { HAPROXY_0_VHOST: 'test.example.com', HAPROXY_0_AUTH: 'realm:u:p' } }),
  ]).body;
  assert.match(
    auth,
    /acl host_test_example_com_nginx hdr\(host\) -i test.example.com\n {2}acl auth_test_example_com_nginx http_auth\(user_nginx_10000\)\n {2}http-request auth realm "realm" if host_test_example_com_nginx !auth_test_example_com_nginx\n {2}use_backend nginx_10000 if host_test_example_com_nginx\n/,
  );
  const multiAuth = render([
    app({ labels: { HAPROXY_0_VHOST: 'test.example.com,test', HAPROXY_0_AUTH: 'realm:u:p' } }),
  ]).body;
  assert.equal((block(multiAuth, 'frontend marathon_https_in').match(/http-request auth/g) ?? []).length, 2);
  assert.match(
    block(multiAuth, 'frontend marathon_http_in'),
    /-i test\n {2}acl auth_test_example_com_nginx http_auth\(user_nginx_10000\)\n {2}http-request auth realm "realm" if host_test_example_com_nginx !auth_test_example_com_nginx\n {2}use_backend nginx_10000 if host_test_example_com_nginx$/,
  );
  const path = render([
    app({ labels: { HAPROXY_0_VHOST: 'test.example.com', HAPROXY_0_PATH: '/some/path' } }),
  ]).body;
  assert.match(
    block(path, 'frontend marathon_http_in'),
    /acl path_nginx_10000 path_beg \/some\/path\n {2}use_backend nginx_10000 if host_test_example_com_nginx path_nginx_10000$/,
  );
  assert.match(
    block(path, 'frontend marathon_https_in'),
    /acl path_nginx_10000 path_beg \/some\/path\n {2}use_backend nginx_10000 if \{ ssl_fc_sni test.example.com \} path_nginx_10000$/,
  );
  const multiPath = render([
    app({ labels: { HAPROXY_0_VHOST: 'test.example.com,test', HAPROXY_0_PATH: '/some/path' } }),
  ]).body;
  assert.equal(
    block(multiPath, 'frontend marathon_http_in'),
    lines(
      'frontend marathon_http_in',
      '  bind *:80',
      '  mode http',
      '  acl path_nginx_10000 path_beg /some/path',
      '  acl host_test_example_com_nginx hdr(host) -i test.example.com',
      '  acl host_test_example_com_nginx hdr(host) -i test',
      '  use_backend nginx_10000 if host_test_example_com_nginx path_nginx_10000',
    ),
  );
  assert.equal((block(multiPath, 'frontend marathon_https_in').match(/path_nginx_10000$/gm) ?? []).length, 2);
  const multiPathAuth = render([
    app({
      labels: {
        HAPROXY_0_VHOST: 'test.example.com,test',
        HAPROXY_0_PATH: '/some/path',
        HAPROXY_0_AUTH: 'realm:u:p',
      },
    }),
  ]).body;
  assert.match(
    block(multiPathAuth, 'frontend marathon_http_in'),
    /mode http\n {2}acl path_nginx_10000 path_beg \/some\/path\n {2}acl auth_test_example_com_nginx http_auth/,
  );
  const redirect = render([
    app({
      labels: {
        HAPROXY_0_VHOST: 'test.example.com',
        HAPROXY_0_PATH: '/some/path',
        HAPROXY_0_REDIRECT_TO_HTTPS: 'true',
      },
    }),
  ]).body;
  assert.match(
    block(redirect, 'frontend marathon_http_in'),
    /acl host_test_example_com_nginx hdr\(host\) -i test.example.com\n {2}acl path_nginx_10000 path_beg \/some\/path\n {2}redirect scheme https code 301 if !\{ ssl_fc \} host_test_example_com_nginx path_nginx_10000$/,
  );
});

test('HSTS, balance, proxypass, revproxy, redirect: HAProxy 2.6 directives instead of rspadd/reqirep/rspirep', () => {
  const hsts = render([app({ labels: { HAPROXY_0_VHOST: 'a.test', HAPROXY_0_USE_HSTS: 'true' } })]).body;
  // Upstream: `rspadd  Strict-Transport-Security:\ max-age=15768000` right after `mode http`.
  assert.match(
    hsts,
    /backend nginx_10000\n {2}balance roundrobin\n {2}mode http\n {2}http-response set-header Strict-Transport-Security max-age=15768000\n/,
  );
  assert.match(render([app({ labels: { HAPROXY_0_BALANCE: 'leastconn' } })]).body, /balance leastconn\n/);
  const pp = render([
    app({
      hc: [],
      labels: { HAPROXY_0_VHOST: 'test.example.com', HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH: '/test/' },
    }),
  ]).body;
  // Upstream: reqirep  "^([^ :]*)\ /test//?(.*)" "\1\ /\2"
  assert.match(
    pp,
    /http-request set-header Host test.example.com\n {2}http-request replace-path \^\/test\/\/\?\(\.\*\) \/\\1\n/,
  );
  const rp = render([
    app({
      hc: [],
      labels: { HAPROXY_0_VHOST: 'test.example.com', HAPROXY_0_HTTP_BACKEND_REVPROXY_PATH: '/test' },
    }),
  ]).body;
  assert.match(
    rp,
    /acl hdr_location res.hdr\(Location\) -m found\n {2}http-response replace-header Location \^\(https\?:\/\/test.example.com\(:\[0-9\]\+\)\?\)\?\(\/\.\*\) \/test if hdr_location\n/,
  );
  const redir = render([
    app({ hc: [], labels: { HAPROXY_0_VHOST: 'test.example.com', HAPROXY_0_HTTP_BACKEND_REDIR: '/test' } }),
  ]).body;
  assert.match(
    redir,
    /acl is_root path -i \/\n {2}acl is_domain hdr\(host\) -i test.example.com\n {2}redirect code 301 location \/test if is_domain is_root\n/,
  );
  // Without a vhost the host placeholder renders Python's None, as upstream asserts.
  const none = render([
    app({ hc: [HC_HTTP], labels: { HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH: '/test/' } }),
  ]).body;
  assert.match(none, /http-request set-header Host None\n/);
});

test('health check port, port index of another service, out of range', () => {
  const port = render([app({ hc: [{ ...HC_HTTP, portIndex: undefined, port: 1024 }] })]).body;
  assert.match(port, /id 18199 check inter 2s fall 11 port 1024\n/);
  const two = (idx: string) =>
    render(
      [
        app({
          ports: [10000, 10001],
          hc: [],
          labels: { HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX: idx },
          tasks: [{ host: 'agent1', ports: [1024, 1025] }],
        }),
      ],
      {},
      { hosts: new Map([['agent1', '192.0.2.1']]) },
    ).body;
  // No health check of its own: the index borrows check 1's — with none, no check lines.
  assert.doesNotMatch(two('1'), /check/);
  const withHc = render(
    [
      app({
        ports: [10000, 10001],
        hc: [HC_HTTP],
        labels: { HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX: '1' },
        tasks: [{ host: 'agent1', ports: [1024, 1025] }],
      }),
    ],
    {},
    { hosts: new Map([['agent1', '192.0.2.1']]) },
  ).body;
  assert.match(
    withHc,
    /server agent1_192_0_2_1_1024 192.0.2.1:1024 id 18199 check inter 2s fall 11 port 1025\n/,
  );
  assert.match(withHc, /server agent1_192_0_2_1_1025 192.0.2.1:1025 id 22260\n/);
  const outOfRange = render(
    [
      app({
        ports: [10000, 10001],
        labels: { HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX: '3' },
        tasks: [{ host: 'agent1', ports: [1024, 1025] }],
      }),
    ],
    {},
    { hosts: new Map([['agent1', '192.0.2.1']]) },
  ).body;
  assert.match(outOfRange, /1024 id 18199 check inter 2s fall 11 port 1024\n/);
});

test('groups: fallback, per-port, hybrid; strict mode and ENABLED', () => {
  const both = render(
    [
      app({
        ports: [10000, 10001],
        hc: [],
        labels: { HAPROXY_GROUP: 'external,internal' },
        tasks: [{ host: 'agent1', ports: [1024, 1025] }],
      }),
    ],
    { groups: ['external', 'internal'] },
  ).body;
  assert.match(both, /frontend nginx_10000\n {2}bind \*:10000\n {2}mode tcp/);
  assert.match(both, /server agent1_192_0_2_1_1024 192.0.2.1:1024 id 18199\n/);
  assert.match(both, /server agent1_192_0_2_1_1025 192.0.2.1:1025 id 22260\n/);
  const perPort = render([
    app({
      ports: [10000, 10001],
      hc: [],
      labels: { HAPROXY_GROUP: 'x', HAPROXY_0_GROUP: 'external', HAPROXY_1_GROUP: 'internal' },
      tasks: [{ host: 'agent1', ports: [1, 2] }],
    }),
  ]).body;
  assert.match(perPort, /frontend nginx_10000/);
  assert.doesNotMatch(perPort, /nginx_10001/);
  const hybrid = render([
    app({
      ports: [10000, 10001],
      hc: [],
      labels: { HAPROXY_0_GROUP: 'internal' },
      tasks: [{ host: 'agent1', ports: [1, 2] }],
    }),
  ]).body;
  assert.match(hybrid, /frontend nginx_10001/);
  assert.doesNotMatch(hybrid, /nginx_10000/);
  const strict = render(
    [
      app({ id: '/nginx1', ports: [10000], hc: [] }),
      app({ id: '/nginx2', ports: [10001], hc: [], labels: { HAPROXY_0_ENABLED: 'true' } }),
    ],
    {},
    { strictMode: true },
  ).body;
  assert.match(strict, /frontend nginx2_10001/);
  assert.doesNotMatch(strict, /nginx1_10000/);
  const disabled = render([
    app({ id: '/a', ports: [10000], hc: [], labels: { HAPROXY_0_ENABLED: 'false' } }),
    app({ id: '/b', ports: [10001], hc: [], labels: { HAPROXY_0_ENABLED: 'true' } }),
  ]).body;
  assert.match(disabled, /frontend b_10001/);
  assert.doesNotMatch(disabled, /a_10000/);
  assert.equal(
    render([app({ labels: { HAPROXY_GROUP: '' } })], { groups: ['*'] }).body.includes('frontend nginx_10000'),
    true,
  );
});

test('sticky: cookie line and cookie id', () => {
  const { body } = render([app({ hc: [], labels: { HAPROXY_0_STICKY: 'true' } })]);
  assert.match(
    body,
    /cookie mesosphere_server_id insert indirect nocache\n {2}server agent1_192_0_2_1_1024 192.0.2.1:1024 id 18199 check cookie fb7fe802da\n/,
  );
});

test('weights order the shared-frontend blocks (descending), frontends stay in id order', () => {
  const apps = ['/nginx', '/nginx1', '/nginx2', '/nginx3'].map((id, w) =>
    app({
      id,
      labels: {
        HAPROXY_0_VHOST: 'server.nginx.net,server.nginx1.net',
        HAPROXY_0_PATH: '/some/path',
        HAPROXY_0_BACKEND_WEIGHT: String(w + 1),
        HAPROXY_0_PORT: '10000',
      },
    }),
  );
  const { body } = render(apps);
  const http = block(body, 'frontend marathon_http_in');
  const order = [...http.matchAll(/use_backend (\w+) /g)].map((m) => m[1]);
  assert.deepEqual(order, ['nginx3_10000', 'nginx2_10000', 'nginx1_10000', 'nginx_10000']);
  const fe = [...body.matchAll(/^frontend (nginx\w*)$/gm)].map((m) => m[1]);
  assert.deepEqual(fe, ['nginx_10000', 'nginx1_10000', 'nginx2_10000', 'nginx3_10000']);
  assert.equal((body.match(/bind \*:10000\n/g) ?? []).length, 4);
});

test('map mode: one map line per frontend, map files, hybrid ACLs first', () => {
  const apps = [
    app({ id: '/nginx', ports: [10000], labels: { HAPROXY_0_VHOST: 'server.nginx.net,server.nginx1.net' } }),
    app({ id: '/apache', ports: [10001], labels: { HAPROXY_0_VHOST: 'server.apache.net' } }),
  ];
  const { services } = buildServices(apps, { hosts: HOSTS });
  const r = renderConfig(services, new Templater(), {
    groups: ['external'],
    head: 'HEAD\n',
    haproxyMap: true,
  });
  assert.equal((r.text.match(/map\(\/etc\/haproxy\/domain2backend.map\)/g) ?? []).length, 2);
  assert.match(
    r.text,
    /use_backend %\[req.hdr\(x-marathon-app-id\),lower,map\(\/etc\/haproxy\/app2backend.map\)\]/,
  );
  assert.equal(
    r.domainMap,
    'server.apache.net apache_10001\nserver.nginx.net nginx_10000\nserver.nginx1.net nginx_10000\n',
  );
  assert.equal(r.appMap, '/apache apache_10001\n/nginx nginx_10000\n');
  const hybrid = [
    app({ id: '/nginx', ports: [10000], labels: { HAPROXY_0_VHOST: 'server.nginx.net' } }),
    app({
      id: '/apache',
      ports: [10001],
      labels: { HAPROXY_0_VHOST: 'server.apache.net', HAPROXY_0_PATH: '/p' },
    }),
  ];
  const h = renderConfig(buildServices(hybrid, { hosts: HOSTS }).services, new Templater(), {
    groups: ['external'],
    head: 'HEAD\n',
    haproxyMap: true,
  });
  const http = block(h.text, 'frontend marathon_http_in');
  assert.ok(http.indexOf('host_server_apache_net_apache') < http.indexOf('domain2backend.map'), http);
  assert.equal(h.domainMap, 'server.nginx.net nginx_10000\n');
});

test('Case D: Marathon 1.5 bridge app (agent IP and host port, short server name, no check)', () => {
  const body = parseApps({
    apps: [
      {
        id: '/pywebserver',
        networks: [{ mode: 'container/bridge' }],
        container: {
          type: 'DOCKER',
          portMappings: [
            { containerPort: 80, hostPort: 0, servicePort: 10101, name: 'test', protocol: 'tcp' },
          ],
        },
        labels: { HAPROXY_GROUP: 'external', HAPROXY_0_VHOST: 'myvhost.com' },
        healthChecks: [],
        portDefinitions: null,
        tasks: [
          {
            id: 'pywebserver.8cad6a69',
            host: '10.0.2.148',
            ports: [1565],
            state: 'TASK_RUNNING',
            ipAddresses: [{ ipAddress: '172.17.0.2', protocol: 'IPv4' }],
          },
        ],
      },
    ],
  });
  const out = render(body.apps, {}, { healthCheck: true }).body;
  assert.match(
    out,
    /acl host_myvhost_com_pywebserver hdr\(host\) -i myvhost.com\n {2}use_backend pywebserver_10101 if host_myvhost_com_pywebserver\n/,
  );
  assert.match(
    out,
    /acl app__pywebserver hdr\(x-marathon-app-id\) -i \/pywebserver\n {2}use_backend pywebserver_10101 if app__pywebserver\n/,
  );
  assert.match(out, /use_backend pywebserver_10101 if \{ ssl_fc_sni myvhost.com \}\n/);
  assert.match(
    out,
    /frontend pywebserver_10101\n {2}bind \*:10101\n {2}mode http\n {2}use_backend pywebserver_10101\n/,
  );
  assert.match(out, /\n {2}server 10_0_2_148_1565 10.0.2.148:1565 id 16827\n/);
});

test('Case E: zdd merge drains the lowest old task', () => {
  const hc = [
    {
      path: '/',
      protocol: 'HTTP',
      portIndex: 0,
      intervalSeconds: 3,
      timeoutSeconds: 15,
      maxConsecutiveFailures: 10,
    },
  ];
  const common = { HAPROXY_DEPLOYMENT_GROUP: 'nginx', HAPROXY_0_PORT: '10000', HAPROXY_GROUP: 'external' };
  const green: MarathonApp = {
    id: '/nginx-green',
    instances: 3,
    container: { docker: { network: 'BRIDGE', portMappings: [{ containerPort: 80, servicePort: 10000 }] } },
    labels: {
      ...common,
      HAPROXY_DEPLOYMENT_STARTED_AT: '2016-02-01T14:13:42.499089',
      HAPROXY_DEPLOYMENT_TARGET_INSTANCES: '20',
    },
    healthChecks: hc,
    tasks: [
      {
        id: 'nginx-green.1',
        host: '10.0.6.25',
        ports: [16916],
        state: 'TASK_RUNNING',
        healthCheckResults: [{ alive: true }],
      },
      {
        id: 'nginx-green.0dbabba6',
        host: '10.0.6.25',
        ports: [31184],
        state: 'TASK_RUNNING',
        healthCheckResults: [{ alive: true }],
      },
      {
        id: 'nginx-green.2',
        host: '10.0.6.25',
        ports: [23336],
        state: 'TASK_RUNNING',
        healthCheckResults: [{ alive: true }],
      },
    ],
  };
  const blue: MarathonApp = {
    id: '/nginx-blue',
    instances: 1,
    container: { docker: { network: 'BRIDGE', portMappings: [{ containerPort: 80, servicePort: 10001 }] } },
    labels: {
      ...common,
      HAPROXY_DEPLOYMENT_STARTED_AT: '2016-02-01T14:57:42.499089',
      HAPROXY_DEPLOYMENT_TARGET_INSTANCES: '3',
    },
    healthChecks: hc,
    tasks: [
      {
        id: 'nginx-blue.1',
        host: '10.0.1.147',
        ports: [25724],
        state: 'TASK_RUNNING',
        healthCheckResults: [{ alive: true }],
      },
    ],
  };
  const out = render([green, blue]).body;
  assert.match(
    out,
    /acl app__nginx hdr\(x-marathon-app-id\) -i \/nginx\n {2}use_backend nginx_10000 if app__nginx\n/,
  );
  assert.match(
    block(out, 'backend nginx_10000'),
    new RegExp(
      [
        '  option  httpchk GET /',
        '  timeout check 15s',
        '  server 10_0_1_147_25724 10.0.1.147:25724 id 9975 check inter 3s fall 11',
        '  server 10_0_6_25_16916 10.0.6.25:16916 id 14685 check inter 3s fall 11',
        '  server 10_0_6_25_23336 10.0.6.25:23336 id 14676 check inter 3s fall 11',
        '  server 10_0_6_25_31184 10.0.6.25:31184 id 27565 check inter 3s fall 11 disabled',
      ].join('\n') + '$',
    ),
  );
});

test('D1: labels only, --health-check filters by Marathon health and task state', () => {
  const web: MarathonApp = {
    id: '/web/app',
    portDefinitions: [{ port: 10001 }, { port: 10002 }],
    labels: {
      HAPROXY_GROUP: 'external',
      HAPROXY_0_VHOST: 'Web.Example.com',
      HAPROXY_0_PATH: '/api',
      HAPROXY_0_STICKY: 'true',
      HAPROXY_0_REDIRECT_TO_HTTPS: 'true',
      HAPROXY_1_MODE: 'tcp',
      HAPROXY_1_PORT: '12000',
    },
    healthChecks: [
      {
        protocol: 'MESOS_HTTP',
        path: '/health',
        portIndex: 0,
        intervalSeconds: 60,
        timeoutSeconds: 20,
        maxConsecutiveFailures: 3,
        gracePeriodSeconds: 300,
      },
    ],
    tasks: [
      {
        id: 't1',
        host: 'agent1',
        ports: [31001, 31002],
        state: 'TASK_RUNNING',
        healthCheckResults: [{ alive: true }],
      },
      {
        id: 't2',
        host: 'agent2',
        ports: [31011, 31012],
        state: 'TASK_RUNNING',
        healthCheckResults: [{ alive: false }],
      },
      { id: 't3', host: 'agent2', ports: [31021, 31022], state: 'TASK_STAGING' },
    ],
  };
  const hosts = new Map([
    ['agent1', '10.0.0.1'],
    ['agent2', '10.0.0.2'],
  ]);
  const out = render([web], {}, { hosts, healthCheck: true }).body;
  assert.match(out, /acl host_web_example_com_web_app hdr\(host\) -i web.example.com\n/);
  assert.match(out, /acl path_web_app_10001 path_beg \/api\n/);
  assert.match(
    out,
    /redirect scheme https code 301 if !\{ ssl_fc \} host_web_example_com_web_app path_web_app_10001\n/,
  );
  assert.match(out, /acl app__web_app hdr\(x-marathon-app-id\) -i \/web\/app\n/);
  assert.match(out, /frontend web_app_12000\n {2}bind \*:12000\n {2}mode tcp\n/);
  assert.equal(
    block(out, 'backend web_app_10001')
      .split('\n')
      .filter((l) => /cookie|httpchk|timeout check|server/.test(l))
      .join('\n'),
    lines(
      '  cookie mesosphere_server_id insert indirect nocache',
      '  option  httpchk GET /health',
      '  timeout check 20s',
      '  server agent1_10_0_0_1_31001 10.0.0.1:31001 id 18388 check cookie cb1e78bfcb check inter 60s fall 4',
    ),
  );
  assert.match(
    block(out, 'backend web_app_12000'),
    /\n {2}server agent1_10_0_0_1_31002 10.0.0.1:31002 id 4174$/,
  );
  const all = render([web], {}, { hosts }).body;
  assert.match(all, /server agent2_10_0_0_2_31011 10.0.0.2:31011 id 23748 /);
  assert.match(all, /server agent2_10_0_0_2_31012 10.0.0.2:31012 id 21111\n/);
});

test('D2–D4: MODE label beats an HTTP check; IP-per-task; per-port groups', () => {
  const db: MarathonApp = {
    id: '/db',
    portDefinitions: [{ port: 10010 }],
    labels: { HAPROXY_GROUP: 'external', HAPROXY_0_MODE: 'tcp' },
    healthChecks: [
      { protocol: 'HTTP', path: '/', portIndex: 0, intervalSeconds: 60, maxConsecutiveFailures: 3 },
    ],
    tasks: [{ id: 'd1', host: 'agent1', ports: [31001], state: 'TASK_RUNNING' }],
  };
  const d2 = render([db], {}, { hosts: new Map([['agent1', '10.0.0.1']]) }).body;
  assert.match(d2, /frontend db_10010\n {2}bind \*:10010\n {2}mode tcp\n/);
  assert.doesNotMatch(d2, /httpchk/);
  assert.match(d2, /id 18388 check inter 60s fall 4\n/);
  const ippc: MarathonApp = {
    id: '/ippc',
    networks: [{ mode: 'container', name: 'dcos' }],
    container: { portMappings: [{ containerPort: 8080, servicePort: 10020 }] },
    labels: { HAPROXY_GROUP: 'external' },
    tasks: [{ id: 'i1', host: 'agent1', ipAddresses: [{ ipAddress: '9.0.0.5' }], state: 'TASK_RUNNING' }],
  };
  const d3 = render([ippc]).body;
  assert.match(d3, /frontend ippc_10020\n {2}bind \*:10020\n/);
  assert.match(d3, /server agent1_9_0_0_5_8080 9.0.0.5:8080 id 26231\n/);
  const multi: MarathonApp = {
    id: '/multi',
    portDefinitions: [{ port: 10030 }, { port: 10031 }],
    labels: { HAPROXY_GROUP: 'internal', HAPROXY_0_GROUP: 'external' },
    tasks: [{ id: 'm1', host: 'agent1', ports: [1, 2], state: 'TASK_RUNNING' }],
  };
  const ext = render([multi]).body;
  assert.match(ext, /frontend multi_10030/);
  assert.doesNotMatch(ext, /multi_10031/);
  const int = render([multi], { groups: ['internal'] }).body;
  assert.match(int, /frontend multi_10031/);
  assert.doesNotMatch(int, /multi_10030/);
});

test('a service without tasks vanishes (Marathon-LB) or stays as a 503 backend (dcnet)', () => {
  const empty = app({ labels: { HAPROXY_0_VHOST: 'a.test' }, tasks: [] });
  assert.doesNotMatch(render([empty]).body, /nginx_10000/);
  const kept = render([empty], { keepEmpty: true }).body;
  assert.match(kept, /use_backend nginx_10000 if host_a_test_nginx/);
  assert.match(kept, /backend nginx_10000\n/);
  assert.doesNotMatch(block(kept, 'backend nginx_10000'), /server/);
});

test('one bad app never takes the others down', () => {
  const good = app({ id: '/good', ports: [10000], labels: { HAPROXY_0_VHOST: 'good.test' } });
  const badAuth = app({ id: '/badauth', ports: [10001], labels: { HAPROXY_0_AUTH: 'only-two:parts' } });
  const badTemplate = app({
    id: '/badtpl',
    ports: [10002],
    labels: { HAPROXY_0_FRONTEND_HEAD: '\nfrontend {nosuch}\n' },
  });
  const badPort = app({ id: '/badport', ports: [10003], labels: { HAPROXY_0_PORT: 'eighty' } });
  const { body, errors } = render([badAuth, badPort, good, badTemplate], {}, { templateLabels: true });
  assert.match(body, /frontend good_10000/);
  assert.doesNotMatch(body, /badauth|badtpl|badport/);
  assert.deepEqual(errors.map((e) => e.appId).sort(), ['/badauth', '/badport', '/badtpl']);
  assert.match(errors.find((e) => e.appId === '/badtpl')!.error, /unknown placeholder \{nosuch\}/);
  assert.match(errors.find((e) => e.appId === '/badport')!.error, /HAPROXY_0_PORT/);
  const parsed = parseApps({
    apps: [{ id: '/ok' }, { id: 5 }, { id: '/x', tasks: [{ id: 't', ports: ['a'] }] }],
  });
  assert.deepEqual(
    parsed.apps.map((a) => a.id),
    ['/ok'],
  );
  assert.match(parsed.errors[0]!, /app #1: field "id"/);
  assert.match(parsed.errors[1]!, /app \/x: field "tasks\.0\.ports\.0"/);
});

test('per-port template label override: used with the operator flag, the app left out without it', () => {
  const overridden = app({
    labels: {
      HAPROXY_0_BACKEND_HEAD:
        '\nbackend {backend}\n  balance {balance}\n  mode {mode}\n  timeout server 5s\n',
    },
  });
  const other = app({ id: '/other', ports: [10001] });
  const { body } = render([overridden, other], {}, { templateLabels: true });
  assert.match(body, /backend nginx_10000\n {2}balance roundrobin\n {2}mode http\n {2}timeout server 5s\n/);
  const off = render([overridden, other]);
  assert.doesNotMatch(off.body, /nginx_10000|timeout server 5s/);
  assert.match(off.body, /backend other_10001\n/);
  assert.deepEqual(off.errors, [
    {
      appId: '/nginx',
      error:
        'label HAPROXY_0_BACKEND_HEAD: template labels are turned off (the operator can allow them with dcnet lb --allow-template-labels)',
    },
  ]);
  // A Templater without the flag ignores label overrides even if asked directly.
  assert.equal(new Templater().overridesOf(overridden.labels!, 0), undefined);
});

test('group-https-by-vhost: SNI splitter, loopback backends, per-vhost TLS frontends', () => {
  const apps = [
    app({
      id: '/nginx',
      ports: [10000],
      labels: {
        HAPROXY_0_VHOST: 'nginx.net,server2.nginx.net',
        HAPROXY_0_SSL_CERT: '/etc/cert',
        HAPROXY_0_BIND_OPTIONS: 'verify required',
      },
    }),
  ];
  const { body } = render(apps, { groupHttpsByVhost: true });
  assert.match(body, /use_backend nginx_net if \{ req_ssl_sni -i nginx.net \}\n/);
  assert.match(
    body,
    /backend server2_nginx_net\n {2}server loopback-for-tls abns@server2_nginx_net send-proxy-v2\n/,
  );
  assert.match(
    body,
    /frontend server2_nginx_net\n {2}mode http\n {2}bind abns@server2_nginx_net accept-proxy ssl crt \/etc\/cert verify required\n/,
  );
  assert.match(body, /bind \*:10000 ssl crt \/etc\/cert verify required\n/);
});

test('dcnet fixes: HTTPS checks speak TLS, not-ready tasks get no traffic, service-port positions kept', () => {
  const https = render([
    app({ hc: [{ ...HC_HTTP, protocol: 'MESOS_HTTPS' }], labels: { HAPROXY_0_VHOST: 'a.test' } }),
  ]).body;
  assert.match(https, /id 18199 check inter 2s fall 11 check-ssl verify none\n/);
  assert.doesNotMatch(render([app({})]).body, /check-ssl/);
  const deploying: MarathonApp = {
    ...app({
      tasks: [
        { host: 'agent1', ports: [1024], id: 'nginx.a' },
        { host: 'agent1', ports: [1025], id: 'nginx.b' },
      ],
    }),
    readinessCheckResults: [
      { taskId: 'nginx.a', ready: true },
      { taskId: 'nginx.b', ready: false },
    ],
  };
  const ready = render([deploying]).body;
  assert.match(ready, /192\.0\.2\.1:1024/);
  assert.doesNotMatch(ready, /192\.0\.2\.1:1025/);
  // The second mapping has no service port: index 2 keeps its own task port (Marathon-LB shifted it).
  const holes: MarathonApp = {
    id: '/holes',
    networks: [{ mode: 'container/bridge' }],
    container: {
      portMappings: [
        { containerPort: 80, servicePort: 10040 },
        { containerPort: 81 },
        { containerPort: 82, servicePort: 10042 },
      ],
    },
    labels: { HAPROXY_GROUP: 'external', HAPROXY_2_MODE: 'http' },
    tasks: [{ id: 'h.1', host: 'agent1', ports: [31000, 31001, 31002], state: 'TASK_RUNNING' }],
  };
  const h = render([holes]).body;
  assert.match(
    block(h, 'backend holes_10042'),
    /mode http\n[\s\S]*server agent1_192_0_2_1_31002 192\.0\.2\.1:31002 /,
  );
  assert.match(block(h, 'backend holes_10040'), /server agent1_192_0_2_1_31000 192\.0\.2\.1:31000 /);
});

test('HAPROXY_GLOBAL_DEFAULT_OPTIONS: sorted, de-duplicated option lines (test_marathon_lb_haproxy_options.py)', async () => {
  const { defaultHead, globalOptions } = await import('../../src/l7lb/index.js');
  assert.deepEqual(globalOptions(undefined), ['dontlognull', 'http-server-close', 'redispatch']);
  assert.deepEqual(globalOptions('httplog,tcplog'), ['httplog', 'tcplog']);
  assert.deepEqual(globalOptions('httplog,tcplog,dontlognull,tcplog'), ['dontlognull', 'httplog', 'tcplog']);
  const head = defaultHead(
    { statsSocket: '/s', serverStateFile: '/t', statsBind: '0.0.0.0:9090', apiAddr: '127.0.0.1:9089' },
    globalOptions('httplog,tcplog,dontlognull,tcplog'),
  );
  assert.match(head, /\n {2}option {12}dontlognull\n {2}option {12}httplog\n {2}option {12}tcplog\n/);
  assert.match(head, /stats socket \/s mode 600 level admin expose-fd listeners\n/);
  assert.doesNotMatch(head, /^\s*daemon\b/m);
});

test('map mode hybrids: redirect keeps ACLs on :80 and the map on :443; auth blocks before the map line', () => {
  const mapped = (apps: MarathonApp[]) =>
    renderConfig(buildServices(apps, { hosts: HOSTS }).services, new Templater(), {
      groups: ['external'],
      head: 'HEAD\n',
      haproxyMap: true,
    });
  const redirect = mapped([
    app({ id: '/nginx', ports: [10000], labels: { HAPROXY_0_VHOST: 'server.nginx.net' } }),
    app({
      id: '/apache',
      ports: [10001],
      labels: {
        HAPROXY_0_VHOST: 'server.apache.net,server.apache1.net',
        HAPROXY_0_REDIRECT_TO_HTTPS: 'true',
      },
    }),
  ]);
  const http = block(redirect.text, 'frontend marathon_http_in');
  assert.match(
    http,
    /acl host_server_apache_net_apache hdr\(host\) -i server.apache.net\n {2}acl host_server_apache_net_apache hdr\(host\) -i server.apache1.net\n {2}redirect scheme https code 301 if !\{ ssl_fc \} host_server_apache_net_apache\n {2}use_backend %\[req.hdr\(host\),lower,regsub\(:.\*\$,,\),map\(\/etc\/haproxy\/domain2backend.map\)\]$/,
  );
  assert.equal(
    block(redirect.text, 'frontend marathon_https_in').split('\n').slice(3).join('\n'),
    '  use_backend %[ssl_fc_sni,lower,map(/etc/haproxy/domain2backend.map)]',
  );
  assert.match(redirect.domainMap, /^server.apache.net apache_10001$/m);
  const auth = mapped([
    app({ id: '/nginx', ports: [10000], labels: { HAPROXY_0_VHOST: 'server.nginx.net' } }),
    app({
      id: '/nginx2',
      ports: [10001],
      labels: { HAPROXY_0_VHOST: 'server.nginx2.net', HAPROXY_0_AUTH: 'realm:user:pass' },
    }),
  ]);
  assert.match(auth.text, /\nuserlist user_nginx2_10001\n {2}user user password pass\n/);
  const h = block(auth.text, 'frontend marathon_http_in');
  assert.ok(h.indexOf('http_auth(user_nginx2_10001)') < h.indexOf('domain2backend.map'), h);
});

test('long proxypass paths: ACL and backend names come from the backend, not the path', () => {
  const long = '/' + 'x'.repeat(200);
  const { body } = render([
    app({
      hc: [],
      labels: {
        HAPROXY_0_VHOST: 'test.example.com',
        HAPROXY_0_PATH: long,
        HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH: long,
      },
    }),
  ]);
  assert.match(body, /acl path_nginx_10000 path_beg \/x{200}\n/);
  assert.match(body, /use_backend nginx_10000 if host_test_example_com_nginx path_nginx_10000\n/);
  assert.match(body, /http-request replace-path \^\/x{200}\/\?\(\.\*\) \/\\1\n/);
});

test('dcnet extension: HAPROXY_{n}_SERVER_WEIGHT, per app even inside a zdd group (canary shares)', () => {
  const group = { HAPROXY_DEPLOYMENT_GROUP: 'shop', HAPROXY_0_PORT: '10060' };
  const stable = app({
    id: '/shop-blue',
    ports: [10061],
    hc: [],
    labels: { ...group, HAPROXY_DEPLOYMENT_STARTED_AT: '2020-01-01T00:00:00', HAPROXY_0_SERVER_WEIGHT: '9' },
    tasks: [{ host: 'agent1', ports: [2001] }],
  });
  const canary = app({
    id: '/shop-green',
    ports: [10062],
    hc: [],
    labels: { ...group, HAPROXY_DEPLOYMENT_STARTED_AT: '2020-01-02T00:00:00', HAPROXY_0_SERVER_WEIGHT: '1' },
    tasks: [{ host: 'agent1', ports: [2002] }],
  });
  const b = block(render([stable, canary]).body, 'backend shop_10060');
  assert.match(b, /server agent1_192_0_2_1_2001 192\.0\.2\.1:2001 id \d+ weight 9( disabled)?\n/);
  assert.match(b, /server agent1_192_0_2_1_2002 192\.0\.2\.1:2002 id \d+ weight 1$/);
  const { errors } = render([app({ labels: { HAPROXY_0_SERVER_WEIGHT: '300' } })]);
  assert.match(errors[0]!.error, /HAPROXY_0_SERVER_WEIGHT: 300 is not a server weight/);
});

test('runtime plan: added, removed and re-weighted servers; anything else reloads', async () => {
  const { parseConfig, planRuntime } = await import('../../src/l7lb/index.js');
  const cfg = (servers: string[], extra = '') =>
    parseConfig(
      `global\n\nfrontend f\n  bind *:1\n\nbackend b\n  balance roundrobin${extra}\n${servers.map((x) => `  server ${x}`).join('\n')}\n`,
    );
  const from = cfg(['s1 10.0.0.1:1 id 1 check', 's2 10.0.0.2:1 id 2 check weight 3']);
  assert.deepEqual(
    planRuntime(
      from,
      cfg(['s1 10.0.0.1:1 id 1 check', 's3 10.0.0.3:1 id 3 check', 's2 10.0.0.2:1 id 2 check weight 5']),
    ),
    {
      add: [
        {
          backend: 'b',
          server: {
            name: 's3',
            addr: '10.0.0.3:1',
            options: 'id 3 check',
            line: 'server s3 10.0.0.3:1 id 3 check',
          },
        },
      ],
      remove: [],
      weights: [{ backend: 'b', server: 's2', weight: 5 }],
    },
  );
  assert.deepEqual(planRuntime(from, cfg(['s2 10.0.0.2:1 id 2 check'])), {
    add: [],
    remove: [{ backend: 'b', server: 's1' }],
    weights: [{ backend: 'b', server: 's2', weight: 1 }],
  });
  assert.match(
    (
      planRuntime(from, cfg(['s1 10.0.0.1:1 id 1 check', 's2 10.0.0.9:1 id 2 check weight 3'])) as {
        reload: string;
      }
    ).reload,
    /s2 changed/,
  );
  assert.match(
    (planRuntime(from, cfg(['s1 10.0.0.1:1 id 1 check'], '\n  mode http')) as { reload: string }).reload,
    /structure/,
  );
  const sticky = cfg(['s1 10.0.0.1:1 id 1'], '\n  cookie x insert');
  assert.match(
    (
      planRuntime(sticky, cfg(['s1 10.0.0.1:1 id 1', 's2 10.0.0.2:1 id 2'], '\n  cookie x insert')) as {
        reload: string;
      }
    ).reload,
    /sticky/,
  );
});
