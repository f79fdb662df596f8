// Marathon-LB's templates (specs/marathon-lb.md §1.5): the same names and placeholders, so
// `HAPROXY_<NAME>` environment variables, `templates/HAPROXY_<NAME>` files and per-port
// `HAPROXY_{n}_<NAME>` app labels keep working. Defaults are written for HAProxy 2.6: the
// `rspadd`/`reqirep`/`rspirep` directives of the originals (removed in HAProxy 2.1) are replaced by
// their `http-request`/`http-response` equivalents (§1.13 quirk 4).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Options of the global head that dcnet fills in (the stats socket the controller talks to). */
export interface HeadOptions {
  readonly statsSocket: string;
  readonly serverStateFile: string;
  readonly statsBind: string;
  /** The controller's own HTTP API, for the Marathon-LB endpoints HAProxy served through Lua. */
  readonly apiAddr: string;
  /** Global maxconn (Marathon-LB: 50000); HAProxy needs about two descriptors per connection. */
  readonly maxconn?: number;
  /** Workers drop to this user and group and chroot into this directory; the master stays root
   *  (it binds, reads certificates, maps and server state before forking, and re-executes on
   *  reload), so the stats socket stays the controller's. */
  readonly isolation?: Isolation;
}

export interface Isolation {
  readonly user?: string;
  readonly group?: string;
  readonly chroot?: string;
}

/** The `user`/`group`/`chroot` lines of `global`. */
export function isolationLines(i: Isolation | undefined): string {
  let out = '';
  if (i?.user) out += `  user ${i.user}\n`;
  if (i?.group) out += `  group ${i.group}\n`;
  if (i?.chroot) out += `  chroot ${i.chroot}\n`;
  return out;
}

/** A head written by the operator (`HAPROXY_HEAD`) gets the isolation lines it lacks, right
 *  after `global`; lines it has are its own. */
export function withIsolation(head: string, i: Isolation | undefined): string {
  const missing: Isolation = {
    ...(i?.user && !/^\s*(?:user|uid)\s/m.test(head) && { user: i.user }),
    ...(i?.group && !/^\s*(?:group|gid)\s/m.test(head) && { group: i.group }),
    ...(i?.chroot && !/^\s*chroot\s/m.test(head) && { chroot: i.chroot }),
  };
  const lines = isolationLines(missing);
  if (!lines) return head;
  const m = /^global[ \t]*\n/m.exec(head);
  return m
    ? head.slice(0, m.index + m[0].length) + lines + head.slice(m.index + m[0].length)
    : `global\n${lines}${head}`;
}

const CIPHERS =
  'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256';

/** The `global`/`defaults`/`listen stats` head; `{options}` is filled from HAPROXY_GLOBAL_DEFAULT_OPTIONS. */
export function defaultHead(o: HeadOptions, defaultOptions: readonly string[]): string {
  return `global
${isolationLines(o.isolation)}  maxconn ${o.maxconn ?? 50000}
  spread-checks 5
  max-spread-checks 15000
  hard-stop-after 5m
  tune.ssl.default-dh-param 2048
  ssl-default-bind-ciphers ${CIPHERS}
  ssl-default-bind-options no-sslv3 no-tlsv10 no-tls-tickets
  ssl-default-server-ciphers ${CIPHERS}
  ssl-default-server-options no-sslv3 no-tlsv10 no-tls-tickets
  stats socket ${o.statsSocket} mode 600 level admin expose-fd listeners
  stats timeout 2m
  server-state-file ${o.serverStateFile}
defaults
  load-server-state-from-file global
  log               global
  retries                   3
  backlog               10000
  maxconn               10000
  timeout connect          3s
  timeout client          30s
  timeout server          30s
  timeout tunnel        3600s
  timeout http-keep-alive  1s
  timeout http-request    15s
  timeout queue           30s
  timeout tarpit          60s
  option idle-close-on-response
  retry-on conn-failure empty-response response-timeout
${defaultOptions.map((x) => `  option            ${x}`).join('\n')}
listen stats
  bind ${o.statsBind}
  balance
  mode http
  stats enable
  monitor-uri /_haproxy_health_check
  http-request use-service prometheus-exporter if { path /metrics }
  use_backend dcnet_lb_api if { path_beg /_haproxy_get /_mlb_signal/ /_dcnet/ }

backend dcnet_lb_api
  mode http
  server api ${o.apiAddr}
`;
}

export const DEFAULT_GLOBAL_OPTIONS = 'redispatch,http-server-close,dontlognull';

/** Sorted, de-duplicated `option` names (as Marathon-LB renders HAPROXY_GLOBAL_DEFAULT_OPTIONS). */
export function globalOptions(env: string | undefined): string[] {
  return [
    ...new Set(
      (env ?? DEFAULT_GLOBAL_OPTIONS)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ].sort();
}

interface TemplateDef {
  readonly text: string;
  /** Appended without formatting (braces are not special). */
  readonly literal?: boolean;
  /** Can be overridden per service port with the app label `HAPROXY_{n}_<NAME>`. */
  readonly perPort?: boolean;
}

const T = (text: string, perPort = true, literal = false): TemplateDef => ({ text, perPort, literal });

export const TEMPLATES = {
  HTTP_FRONTEND_HEAD: T('\nfrontend marathon_http_in\n  bind *:80\n  mode http\n', false, true),
  HTTP_FRONTEND_APPID_HEAD: T('\nfrontend marathon_http_appid_in\n  bind *:9091\n  mode http\n', false, true),
  HTTPS_FRONTEND_HEAD: T('\nfrontend marathon_https_in\n  bind *:443 ssl {sslCerts}\n  mode http\n', false),
  HTTPS_GROUPED_FRONTEND_HEAD: T(
    '\nfrontend marathon_https_in\n  bind *:443\n  mode tcp\n  tcp-request inspect-delay 5s\n  tcp-request content accept if { req_ssl_hello_type 1 }\n',
    false,
    true,
  ),
  HTTPS_GROUPED_VHOST_FRONTEND_HEAD: T(
    '\nfrontend {name}\n  mode http\n  bind abns@{name} accept-proxy ssl {sslCerts}{bindOpts}\n',
    false,
  ),
  HTTPS_GROUPED_VHOST_BACKEND_HEAD: T(
    '\nbackend {name}\n  server loopback-for-tls abns@{name} send-proxy-v2\n',
    false,
  ),
  HTTPS_GROUPED_VHOST_FRONTEND_ACL: T('  use_backend {backend} if {{ req_ssl_sni -i {host} }}\n', false),
  HTTP_BACKEND_ACL_ALLOW_DENY: T(
    '  http-request allow if network_allowed\n  http-request deny\n',
    false,
    true,
  ),
  TCP_BACKEND_ACL_ALLOW_DENY: T(
    '  tcp-request content accept if network_allowed\n  tcp-request content reject\n',
    false,
    true,
  ),
  USERLIST_HEAD: T('\nuserlist user_{backend}\n  user {user} password {passwd}\n'),
  FRONTEND_HEAD: T(
    '\nfrontend {backend}\n  bind {bindAddr}:{servicePort}{sslCert}{bindOptions}\n  mode {mode}\n',
  ),
  FRONTEND_BACKEND_GLUE: T('  use_backend {backend}\n'),
  BACKEND_HEAD: T('\nbackend {backend}\n  balance {balance}\n  mode {mode}\n'),
  BACKEND_HTTP_OPTIONS: T(
    '  option forwardfor\n  http-request set-header X-Forwarded-Port %[dst_port]\n  http-request add-header X-Forwarded-Proto https if { ssl_fc }\n',
    true,
    true,
  ),
  BACKEND_HSTS_OPTIONS: T(
    '  http-response set-header Strict-Transport-Security max-age=15768000\n',
    true,
    true,
  ),
  BACKEND_STICKY_OPTIONS: T('  cookie mesosphere_server_id insert indirect nocache\n', true, true),
  BACKEND_HTTP_HEALTHCHECK_OPTIONS: T(
    '  option  httpchk GET {healthCheckPath}\n  timeout check {healthCheckTimeoutSeconds}s\n',
  ),
  BACKEND_TCP_HEALTHCHECK_OPTIONS: T(''),
  BACKEND_SERVER_OPTIONS: T(
    '  server {serverName} {host_ipv4}:{port} id {serverId}{cookieOptions}{healthCheckOptions}{otherOptions}\n',
  ),
  // `{healthCheckSslOptions}` (dcnet): HTTPS checks speak TLS (Marathon-LB sent plain HTTP, §1.13 quirk 5).
  BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS: T(
    '  check inter {healthCheckIntervalSeconds}s fall {healthCheckFalls}{healthCheckPortOptions}{healthCheckSslOptions}\n',
  ),
  BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS: T(
    '  check inter {healthCheckIntervalSeconds}s fall {healthCheckFalls}{healthCheckPortOptions}\n',
  ),
  BACKEND_REDIRECT_HTTP_TO_HTTPS: T(
    '  redirect scheme https code 301 if !{{ ssl_fc }} host_{cleanedUpHostname}\n',
  ),
  BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH: T(
    '  redirect scheme https code 301 if !{{ ssl_fc }} host_{cleanedUpHostname} path_{backend}\n',
  ),
  HTTP_FRONTEND_ACL: T(
    '  acl host_{cleanedUpHostname} hdr(host) -i {hostname}\n  use_backend {backend} if host_{cleanedUpHostname}\n',
  ),
  HTTP_FRONTEND_ACL_ONLY: T('  acl host_{cleanedUpHostname} hdr(host) -i {hostname}\n'),
  HTTP_FRONTEND_ROUTING_ONLY: T('  use_backend {backend} if host_{cleanedUpHostname}\n'),
  HTTP_FRONTEND_ACL_WITH_PATH: T(
    '  acl host_{cleanedUpHostname} hdr(host) -i {hostname}\n  acl path_{backend} path_beg {path}\n  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n',
  ),
  HTTP_FRONTEND_ACL_ONLY_WITH_PATH: T('  acl path_{backend} path_beg {path}\n'),
  HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH: T(
    '  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n',
  ),
  HTTP_FRONTEND_ACL_WITH_AUTH: T(
    '  acl host_{cleanedUpHostname} hdr(host) -i {hostname}\n  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n  http-request auth realm "{realm}" if host_{cleanedUpHostname} !auth_{cleanedUpHostname}\n  use_backend {backend} if host_{cleanedUpHostname}\n',
  ),
  HTTP_FRONTEND_ACL_WITH_AUTH_AND_PATH: T(
    '  acl host_{cleanedUpHostname} hdr(host) -i {hostname}\n  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n  acl path_{backend} path_beg {path}\n  http-request auth realm "{realm}" if host_{cleanedUpHostname} path_{backend} !auth_{cleanedUpHostname}\n  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n',
  ),
  HTTP_FRONTEND_ACL_ONLY_WITH_PATH_AND_AUTH: T(
    '  acl path_{backend} path_beg {path}\n  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n',
  ),
  HTTP_FRONTEND_ROUTING_ONLY_WITH_AUTH: T(
    '  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n  http-request auth realm "{realm}" if host_{cleanedUpHostname} !auth_{cleanedUpHostname}\n  use_backend {backend} if host_{cleanedUpHostname}\n',
  ),
  HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH: T(
    '  http-request auth realm "{realm}" if host_{cleanedUpHostname} path_{backend} !auth_{cleanedUpHostname}\n  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n',
  ),
  HTTP_FRONTEND_APPID_ACL: T(
    '  acl app_{cleanedUpAppId} hdr(x-marathon-app-id) -i {appId}\n  use_backend {backend} if app_{cleanedUpAppId}\n',
  ),
  HTTPS_FRONTEND_ACL: T('  use_backend {backend} if {{ ssl_fc_sni {hostname} }}\n'),
  HTTPS_FRONTEND_ACL_WITH_PATH: T('  use_backend {backend} if {{ ssl_fc_sni {hostname} }} path_{backend}\n'),
  HTTPS_FRONTEND_ACL_ONLY_WITH_PATH: T('  acl path_{backend} path_beg {path}\n'),
  HTTPS_FRONTEND_ACL_WITH_AUTH: T(
    '  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n  http-request auth realm "{realm}" if {{ ssl_fc_sni {hostname} }} !auth_{cleanedUpHostname}\n  use_backend {backend} if {{ ssl_fc_sni {hostname} }}\n',
  ),
  HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH: T(
    '  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n  http-request auth realm "{realm}" if {{ ssl_fc_sni {hostname} }} path_{backend} !auth_{cleanedUpHostname}\n  use_backend {backend} if {{ ssl_fc_sni {hostname} }} path_{backend}\n',
  ),
  MAP_HTTP_FRONTEND_ACL: T(
    '  use_backend %[req.hdr(host),lower,regsub(:.*$,,),map({haproxy_dir}/domain2backend.map)]\n',
  ),
  MAP_HTTP_FRONTEND_ACL_ONLY: T(
    '  use_backend %[req.hdr(host),lower,regsub(:.*$,,),map({haproxy_dir}/domain2backend.map)]\n',
  ),
  MAP_HTTPS_FRONTEND_ACL: T('  use_backend %[ssl_fc_sni,lower,map({haproxy_dir}/domain2backend.map)]\n'),
  MAP_HTTP_FRONTEND_APPID_ACL: T(
    '  use_backend %[req.hdr(x-marathon-app-id),lower,map({haproxy_dir}/app2backend.map)]\n',
  ),
  HTTP_BACKEND_PROXYPASS_GLUE: T(
    '  http-request set-header Host {hostname}\n  http-request replace-path ^{proxypath}/?(.*) /\\1\n',
  ),
  HTTP_BACKEND_REVPROXY_GLUE: T(
    '  acl hdr_location res.hdr(Location) -m found\n  http-response replace-header Location ^(https?://{hostname}(:[0-9]+)?)?(/.*) {rootpath} if hdr_location\n',
  ),
  HTTP_BACKEND_REDIR: T(
    '  acl is_root path -i /\n  acl is_domain hdr(host) -i {hostname}\n  redirect code 301 location {redirpath} if is_domain is_root\n',
    // Not overridable per port: the label HAPROXY_{n}_HTTP_BACKEND_REDIR is the redirect path.
    false,
  ),
  HTTP_BACKEND_NETWORK_ALLOWED_ACL: T('  acl network_allowed src {network_allowed}\n'),
  TCP_BACKEND_NETWORK_ALLOWED_ACL: T('  acl network_allowed src {network_allowed}\n'),
} satisfies Record<string, TemplateDef>;

export type TemplateName = keyof typeof TEMPLATES;

/** Where the MAP_* getters look for a per-port label (upstream quirk kept: the non-map names). */
const LABEL_NAME: Partial<Record<TemplateName, TemplateName>> = {
  MAP_HTTP_FRONTEND_ACL: 'HTTP_FRONTEND_ACL',
  MAP_HTTP_FRONTEND_ACL_ONLY: 'HTTP_FRONTEND_ACL_ONLY',
  MAP_HTTPS_FRONTEND_ACL: 'HTTPS_FRONTEND_ACL',
  MAP_HTTP_FRONTEND_APPID_ACL: 'HTTP_FRONTEND_APPID_ACL',
};

/** Label suffix → the per-port templates it overrides. */
const PER_PORT_BY_LABEL = new Map<string, TemplateName[]>();
for (const name of Object.keys(TEMPLATES) as TemplateName[]) {
  if (!(TEMPLATES[name] as TemplateDef).perPort) continue;
  const label = LABEL_NAME[name] ?? name;
  PER_PORT_BY_LABEL.set(label, [...(PER_PORT_BY_LABEL.get(label) ?? []), name]);
}

/** `<NAME>` of the per-port template labels `HAPROXY_{n}_<NAME>` (raw config text). */
export const TEMPLATE_LABELS: ReadonlySet<string> = new Set(PER_PORT_BY_LABEL.keys());

/** Resolved templates: env `HAPROXY_<NAME>` (literal `\n` → newline) → `templates/HAPROXY_<NAME>`
 *  file → default; read once. `HEAD` is kept apart (it is built from the controller's paths).
 *  Per-port template labels are used only with `labelTemplates` (the operator's choice). */
export class Templater {
  private readonly resolved = new Map<TemplateName, string>();
  readonly headOverride: string | undefined;
  private readonly labelTemplates: boolean;

  constructor(
    opts: {
      env?: Readonly<Record<string, string | undefined>>;
      templateDir?: string | undefined;
      labelTemplates?: boolean;
    } = {},
  ) {
    this.labelTemplates = opts.labelTemplates === true;
    const env = opts.env ?? {};
    const fromFile = (name: string): string | undefined => {
      if (opts.templateDir === undefined) return undefined;
      try {
        return readFileSync(join(opts.templateDir, `HAPROXY_${name}`), 'utf8');
      } catch {
        return undefined;
      }
    };
    const lookup = (name: string): string | undefined => {
      const e = env[`HAPROXY_${name}`];
      if (e !== undefined) return e.replace(/\\n/g, '\n');
      return fromFile(name);
    };
    for (const name of Object.keys(TEMPLATES) as TemplateName[]) {
      this.resolved.set(name, lookup(name) ?? TEMPLATES[name].text);
    }
    this.headOverride = lookup('HEAD');
  }

  /** The template text for service port `n` of an app with `labels` (per-port label wins). */
  get(name: TemplateName, labels?: Readonly<Record<string, string>>, n?: number): string {
    if (labels && n !== undefined) {
      const v = this.overridesOf(labels, n)?.get(name);
      if (v !== undefined) return v;
    }
    return this.resolved.get(name)!;
  }

  /** Per-port overrides among an app's labels (most apps have none: no map is made). */
  overridesOf(labels: Readonly<Record<string, string>>, n: number): Map<TemplateName, string> | undefined {
    if (!this.labelTemplates) return undefined;
    let byPort = this.overrideCache.get(labels);
    if (!byPort) {
      byPort = new Map();
      this.overrideCache.set(labels, byPort);
    }
    if (byPort.has(n)) return byPort.get(n);
    let found: Map<TemplateName, string> | undefined;
    const prefix = `HAPROXY_${n}_`;
    for (const key in labels) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      for (const name of PER_PORT_BY_LABEL.get(rest) ?? []) {
        found ??= new Map();
        found.set(name, labels[key]!.replace(/\r\n/g, '\n'));
      }
    }
    byPort.set(n, found);
    return found;
  }

  private readonly overrideCache = new WeakMap<object, Map<number, Map<TemplateName, string> | undefined>>();

  isLiteral(name: TemplateName): boolean {
    return (TEMPLATES[name] as TemplateDef).literal === true;
  }
}
