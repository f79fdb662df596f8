// HAProxy configuration from services, as Marathon-LB's `config()` (specs/marathon-lb.md §1.6–1.8):
// same assembly order, names, ACLs and templates. Each app is rendered on its own: a template or
// label error drops that app (reported), the others are unaffected (§7 "per-app render isolation").
// The text comes with the owner app of every line, so a `haproxy -c` error can be traced to an app.
import { pyFormat, type FormatValue } from './format.js';
import { cookieOf, serverId } from './server-id.js';
import type { Backend, Service } from './services.js';
import { TEMPLATES, type TemplateName, type Templater } from './templates.js';

export interface RenderOptions {
  /** LB groups this instance serves (`*` = every app, with or without a group). */
  readonly groups: readonly string[];
  /** The shared :80/:443 frontends (`--dont-bind-http-https` turns them off). */
  readonly bindHttpHttps?: boolean;
  /** Certificates of the shared :443 frontend; empty → the default cert. */
  readonly sslCerts?: readonly string[];
  readonly defaultSslCert?: string;
  readonly haproxyMap?: boolean;
  readonly groupHttpsByVhost?: boolean;
  /** Directory of the map files (the config's directory). */
  readonly haproxyDir?: string;
  /** The global head (literal). */
  readonly head: string;
  /** Keep services without backends (HAProxy answers 503) instead of dropping them (Marathon-LB). */
  readonly keepEmpty?: boolean;
  /** App ids left out (e.g. after `haproxy -c` blamed them). */
  readonly exclude?: ReadonlySet<string>;
  /** Drop the default port from Host (`a.test:80` → `a.test`) before the vhost ACLs; Marathon-LB
   *  does not, so `Host: a.test:80` misses the vhost (§1.13 quirk 2). */
  readonly stripHostPort?: boolean;
}

export interface RenderResult {
  readonly text: string;
  /** App id owning line `n` (0-based) of `text`, undefined for shared lines. */
  readonly ownerOfLine: (n: number) => string | undefined;
  readonly domainMap: string;
  readonly appMap: string;
  /** Apps dropped while rendering, with why. */
  readonly errors: { appId: string; error: string }[];
  /** Services rendered, by backend name. */
  readonly backends: Map<string, Service>;
}

const sanitize = (s: string): string => s.replace(/[^A-Za-z0-9-]/g, '_');

export const backendName = (s: Pick<Service, 'appId' | 'servicePort'>): string =>
  `${s.appId.replace(/^\//, '').replace(/\//g, '_')}_${s.servicePort}`;

export const serverName = (b: Pick<Backend, 'host' | 'ip' | 'port'>): string =>
  sanitize(b.host !== b.ip ? `${b.host}_${b.ip}_${b.port}` : `${b.ip}_${b.port}`);

const byHostPort = (a: Backend, b: Backend): number =>
  a.host < b.host ? -1 : a.host > b.host ? 1 : a.port - b.port;

export function serviceInGroups(s: Service, groups: readonly string[]): boolean {
  const own = s.portGroups.length > 0 ? s.portGroups : s.appGroups;
  if (groups.includes('*')) return true;
  return own.some((g) => groups.includes(g));
}

interface Fragment {
  readonly weight: number;
  readonly text: string;
  readonly appId: string;
  readonly order: number;
}

interface Owned {
  readonly text: string;
  readonly appId: string;
}

/** Everything rendered so far, for all apps (an app that fails is cut back out). */
interface Output {
  userlists: Owned[];
  http: Fragment[];
  https: Fragment[];
  appid: Owned[];
  frontends: Owned[];
  backends: Owned[];
  domainMap: [string, string][];
  appMap: [string, string][];
  vhosts: { host: string; service: Service; fragment: string }[];
}

const newOutput = (): Output => ({
  userlists: [],
  http: [],
  https: [],
  appid: [],
  frontends: [],
  backends: [],
  domainMap: [],
  appMap: [],
  vhosts: [],
});

class Renderer {
  private order = 0;
  /** Map lines are emitted once per frontend: the first app that needs them carries them. */
  private httpMapTaken = false;
  private httpsMapTaken = false;
  private appMapTaken = false;

  constructor(
    private readonly t: Templater,
    private readonly o: RenderOptions,
    private readonly all: readonly Service[],
  ) {}

  private cur: Service | undefined;
  private curOverrides: Map<TemplateName, string> | undefined;

  fmt(name: TemplateName, s: Service | undefined, values: Record<string, FormatValue>): string {
    if (s !== this.cur) {
      this.cur = s;
      this.curOverrides = s ? this.t.overridesOf(s.labels, s.index) : undefined;
    }
    const override = this.curOverrides?.get(name);
    // A per-port label override is always formatted; a literal default is appended as is.
    if (override !== undefined) return pyFormat(override, values);
    const text = this.t.get(name);
    return this.t.isLiteral(name) ? text : pyFormat(text, values);
  }

  /** Renders one app's services into `out`; on an error nothing of the app stays there. */
  renderApp(services: readonly Service[], out: Output): void {
    const marks = Object.entries(out).map(([k, v]) => [k, (v as unknown[]).length] as const);
    // Map-line ownership is committed only if the whole app renders.
    const taken = { http: this.httpMapTaken, https: this.httpsMapTaken, app: this.appMapTaken };
    // All services of an app id render together: "first service of each app id" is local.
    const seen = new Set<string>();
    try {
      for (const s of services) this.renderService(s, out, taken, seen);
    } catch (err) {
      for (const [k, n] of marks) (out[k as keyof Output] as unknown[]).length = n;
      throw err;
    }
    this.httpMapTaken = taken.http;
    this.httpsMapTaken = taken.https;
    this.appMapTaken = taken.app;
  }

  private renderService(
    s: Service,
    out: Output,
    taken: { http: boolean; https: boolean; app: boolean },
    seen: Set<string>,
  ): void {
    const backend = backendName(s);
    const mode = s.mode ?? (s.hostname ? 'http' : 'tcp');
    const haproxy_dir = this.o.haproxyDir ?? '/etc/haproxy';
    const map = this.o.haproxyMap === true;
    if (s.auth) {
      out.userlists.push({
        text: this.fmt('USERLIST_HEAD', s, { backend, user: s.auth.user, passwd: s.auth.passwd }),
        appId: s.appId,
      });
    }
    if (this.o.bindHttpHttps !== false && s.hostname) {
      const hosts = s.hostname.split(',');
      const cleanedUpHostname = `${sanitize(hosts[0]!)}_${s.appId.replace(/^\//, '').replace(/\//g, '_')}`;
      const base = {
        cleanedUpHostname,
        appId: s.appId,
        backend,
        path: s.path ?? null,
        realm: s.auth?.realm ?? null,
        haproxy_dir,
      };
      const f = (name: TemplateName, hostname: string): string => this.fmt(name, s, { ...base, hostname });
      let http = '';
      let https = '';
      let httpWeight = s.backendWeight;
      const useMapHttp = map && !s.path && !s.auth && !s.redirectHttpToHttps;
      const useMapHttps = map && !s.path && !s.auth;
      const httpMapLine = (host: string): void => {
        out.domainMap.push([host, backend]);
        if (!taken.http) {
          taken.http = true;
          http += f('MAP_HTTP_FRONTEND_ACL', host);
          httpWeight = -1;
        }
      };
      const httpsMapLine = (host: string): string => {
        out.domainMap.push([host, backend]);
        if (taken.https) return '';
        taken.https = true;
        return f('MAP_HTTPS_FRONTEND_ACL', host);
      };
      if (hosts.length === 1) {
        const h = hosts[0]!;
        if (useMapHttp) httpMapLine(h);
        else if (s.path) {
          if (s.redirectHttpToHttps)
            http +=
              f('HTTP_FRONTEND_ACL_ONLY', h) +
              f('HTTP_FRONTEND_ACL_ONLY_WITH_PATH', h) +
              f('BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH', h);
          else if (s.auth) http += f('HTTP_FRONTEND_ACL_WITH_AUTH_AND_PATH', h);
          else http += f('HTTP_FRONTEND_ACL_WITH_PATH', h);
        } else if (s.redirectHttpToHttps)
          http += f('HTTP_FRONTEND_ACL', h) + f('BACKEND_REDIRECT_HTTP_TO_HTTPS', h);
        else if (s.auth) http += f('HTTP_FRONTEND_ACL_WITH_AUTH', h);
        else http += f('HTTP_FRONTEND_ACL', h);
        https += this.httpsFor(f, h, s, useMapHttps, httpsMapLine, true);
      } else {
        if (s.path) {
          http += f(
            s.auth ? 'HTTP_FRONTEND_ACL_ONLY_WITH_PATH_AND_AUTH' : 'HTTP_FRONTEND_ACL_ONLY_WITH_PATH',
            hosts[0]!,
          );
          https += f('HTTPS_FRONTEND_ACL_ONLY_WITH_PATH', hosts[0]!);
        }
        for (const h of hosts) {
          if (useMapHttp) httpMapLine(h);
          else http += f('HTTP_FRONTEND_ACL_ONLY', h);
          https += this.httpsFor(f, h, s, useMapHttps, httpsMapLine, false);
        }
        const h0 = hosts[0]!;
        if (s.redirectHttpToHttps)
          http += f(
            s.path ? 'BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH' : 'BACKEND_REDIRECT_HTTP_TO_HTTPS',
            h0,
          );
        else if (s.path && s.auth) http += f('HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH', h0);
        else if (s.path) http += f('HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH', h0);
        else if (s.auth) http += f('HTTP_FRONTEND_ROUTING_ONLY_WITH_AUTH', h0);
        else if (!useMapHttp) http += f('HTTP_FRONTEND_ROUTING_ONLY', h0);
      }
      if (http) out.http.push({ weight: httpWeight, text: http, appId: s.appId, order: this.order++ });
      if (https) {
        out.https.push({ weight: s.backendWeight, text: https, appId: s.appId, order: this.order++ });
        for (const h of hosts) out.vhosts.push({ host: h, service: s, fragment: https });
      }
    }
    if (mode === 'http' && !seen.has(s.appId)) {
      seen.add(s.appId);
      if (map) {
        out.appMap.push([s.appId, backend]);
        if (!taken.app) {
          taken.app = true;
          out.appid.push({
            text: this.fmt('MAP_HTTP_FRONTEND_APPID_ACL', s, { haproxy_dir }),
            appId: s.appId,
          });
        }
      } else {
        out.appid.push({
          text: this.fmt('HTTP_FRONTEND_APPID_ACL', s, {
            cleanedUpAppId: sanitize(s.appId),
            hostname: s.hostname ?? null,
            appId: s.appId,
            backend,
          }),
          appId: s.appId,
        });
      }
    }
    out.frontends.push({
      text:
        this.fmt('FRONTEND_HEAD', s, {
          bindAddr: s.bindAddr,
          backend,
          servicePort: s.servicePort,
          mode,
          sslCert: s.sslCert ? ` ssl crt ${s.sslCert}` : '',
          bindOptions: s.bindOptions ? ` ${s.bindOptions}` : '',
        }) + this.fmt('FRONTEND_BACKEND_GLUE', s, { backend }),
      appId: s.appId,
    });
    out.backends.push({ text: this.backendBlock(s, backend, mode), appId: s.appId });
  }

  private httpsFor(
    f: (name: TemplateName, hostname: string) => string,
    h: string,
    s: Service,
    useMap: boolean,
    mapLine: (host: string) => string,
    single: boolean,
  ): string {
    if (s.path) {
      const pre = single ? f('HTTPS_FRONTEND_ACL_ONLY_WITH_PATH', h) : '';
      return pre + f(s.auth ? 'HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH' : 'HTTPS_FRONTEND_ACL_WITH_PATH', h);
    }
    if (s.auth) return f('HTTPS_FRONTEND_ACL_WITH_AUTH', h);
    if (useMap) return mapLine(h);
    return f('HTTPS_FRONTEND_ACL', h);
  }

  private hcValues(s: Service, port: number | undefined): Record<string, FormatValue> {
    const hc = s.healthCheck!;
    const max = hc.maxConsecutiveFailures ?? 3;
    return {
      healthCheck: hc,
      healthCheckPortIndex: hc.portIndex ?? null,
      healthCheckPort: port ?? null,
      healthCheckProtocol: hc.protocol ?? 'HTTP',
      healthCheckPath: hc.path ?? '/',
      healthCheckTimeoutSeconds: hc.timeoutSeconds ?? 20,
      healthCheckIntervalSeconds: hc.intervalSeconds ?? 60,
      healthCheckGracePeriodSeconds: hc.gracePeriodSeconds ?? 300,
      healthCheckMaxConsecutiveFailures: max,
      healthCheckFalls: max + 1,
      healthCheckPortOptions: port ? ` port ${port}` : '',
      healthCheckSslOptions:
        hc.protocol === 'HTTPS' || hc.protocol === 'MESOS_HTTPS' ? ' check-ssl verify none' : '',
    };
  }

  /** `get_backend_port`: the port of the same-position server of service index k (§1.6.8). */
  private backendPort(s: Service, position: number, own: number): number {
    const k = s.healthCheckPortIndex;
    if (k === undefined) return own;
    const siblings = this.all
      .filter((x) => x.appId === s.appId)
      .sort((a, b) => a.servicePort - b.servicePort);
    // Upstream crashes on k == count; here it falls back to the own port like |k| > count.
    if (Math.abs(k) >= siblings.length && !(k < 0 && -k === siblings.length)) return own;
    const other = siblings[k < 0 ? siblings.length + k : k]!;
    const b = [...other.backends].sort(byHostPort)[position];
    return b?.port ?? own;
  }

  private backendBlock(s: Service, backend: string, mode: string): string {
    let out = this.fmt('BACKEND_HEAD', s, { backend, balance: s.balance, mode });
    if (mode === 'http') {
      if (s.useHsts) out += this.fmt('BACKEND_HSTS_OPTIONS', s, {});
      out += this.fmt('BACKEND_HTTP_OPTIONS', s, {});
      if (s.proxypath)
        out += this.fmt('HTTP_BACKEND_PROXYPASS_GLUE', s, {
          hostname: s.hostname ?? null,
          proxypath: s.proxypath,
        });
      if (s.revproxypath)
        out += this.fmt('HTTP_BACKEND_REVPROXY_GLUE', s, {
          hostname: s.hostname ?? null,
          rootpath: s.revproxypath,
        });
      if (s.redirpath)
        out += this.fmt('HTTP_BACKEND_REDIR', s, { hostname: s.hostname ?? null, redirpath: s.redirpath });
    }
    if (s.networkAllowed) {
      const prefix = mode === 'http' ? 'HTTP' : 'TCP';
      for (const net of s.networkAllowed.split(' ').filter(Boolean))
        out += this.fmt(`${prefix}_BACKEND_NETWORK_ALLOWED_ACL`, s, { network_allowed: net });
      out += this.fmt(`${prefix}_BACKEND_ACL_ALLOW_DENY`, s, {});
    }
    if (s.sticky) out += this.fmt('BACKEND_STICKY_OPTIONS', s, {});
    const hc = s.healthCheck;
    const tcpCheck = hc && (mode === 'tcp' || hc.protocol === 'TCP' || hc.protocol === 'MESOS_TCP');
    const httpCheck = hc && !tcpCheck && mode === 'http';
    if (tcpCheck) out += this.fmt('BACKEND_TCP_HEALTHCHECK_OPTIONS', s, this.hcValues(s, hc.port));
    else if (httpCheck) out += this.fmt('BACKEND_HTTP_HEALTHCHECK_OPTIONS', s, this.hcValues(s, hc.port));
    const taken = new Set<number>();
    const lines: string[] = [];
    const defaultServerLine =
      this.t.overridesOf(s.labels, s.index)?.has('BACKEND_SERVER_OPTIONS') !== true &&
      this.t.get('BACKEND_SERVER_OPTIONS') === TEMPLATES.BACKEND_SERVER_OPTIONS.text;
    // Server health-check options depend only on the check port: rendered once per port.
    const hcByPort = new Map<number | undefined, string>();
    [...s.backends].sort(byHostPort).forEach((b, position) => {
      const name = serverName(b);
      let healthCheckOptions = '';
      if (hc && (tcpCheck || httpCheck)) {
        const port = s.healthCheckPortIndex !== undefined ? this.backendPort(s, position, b.port) : hc.port;
        let cached = hcByPort.get(port);
        if (cached === undefined) {
          const text = this.fmt(
            tcpCheck ? 'BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS' : 'BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS',
            s,
            this.hcValues(s, port),
          ).trim();
          cached = text ? ` ${text}` : '';
          hcByPort.set(port, cached);
        }
        healthCheckOptions = cached;
      }
      const id = serverId(name, taken);
      const cookieOptions = s.sticky ? ` check cookie ${cookieOf(name)}` : '';
      const otherOptions = `${b.weight !== undefined ? ` weight ${b.weight}` : ''}${b.draining ? ' disabled' : ''}`;
      // The default server line built directly (the hot path: one per task); same text as the template.
      if (defaultServerLine)
        lines.push(
          `  server ${name} ${b.ip}:${b.port} id ${id}${cookieOptions}${healthCheckOptions}${otherOptions}\n`,
        );
      else
        lines.push(
          this.fmt('BACKEND_SERVER_OPTIONS', s, {
            host: b.host,
            host_ipv4: b.ip,
            port: b.port,
            serverName: name,
            serverId: id,
            cookieOptions,
            healthCheckOptions,
            otherOptions,
          }),
        );
    });
    return out + lines.join('');
  }
}

const compareServices = (a: Service, b: Service): number =>
  a.appId < b.appId ? -1 : a.appId > b.appId ? 1 : a.servicePort - b.servicePort;

/** Stable sort by weight, descending. */
const byWeight = (a: Fragment, b: Fragment): number => b.weight - a.weight || a.order - b.order;

export function renderConfig(all: readonly Service[], t: Templater, o: RenderOptions): RenderResult {
  const sorted = [...all].sort(compareServices);
  const selected = sorted.filter(
    (s) =>
      serviceInGroups(s, o.groups) &&
      s.enabled &&
      (s.backends.length > 0 || o.keepEmpty === true) &&
      !o.exclude?.has(s.appId),
  );
  const r = new Renderer(t, o, sorted);
  const errors: { appId: string; error: string }[] = [];
  const out = newOutput();
  const failed = new Set<string>();
  for (let i = 0; i < selected.length;) {
    const appId = selected[i]!.appId;
    let j = i;
    while (j < selected.length && selected[j]!.appId === appId) j++;
    try {
      r.renderApp(selected.slice(i, j), out);
    } catch (err) {
      failed.add(appId);
      errors.push({ appId, error: (err as Error).message });
    }
    i = j;
  }
  // Chunks with their owners; line numbers are only counted if someone asks (a failed check).
  const chunks: string[] = [];
  const chunkOwners: (string | undefined)[] = [];
  const add = (text: string, owner: string | undefined): void => {
    chunks.push(text);
    chunkOwners.push(owner);
  };
  let ranges: { start: number; end: number; owner: string }[] | undefined;
  const ownerOfLine = (n: number): string | undefined => {
    if (!ranges) {
      ranges = [];
      let line = 0;
      chunks.forEach((text, i) => {
        const start = line;
        for (let j = text.indexOf('\n'); j >= 0; j = text.indexOf('\n', j + 1)) line++;
        const owner = chunkOwners[i];
        if (owner !== undefined) ranges!.push({ start, end: text.endsWith('\n') ? line - 1 : line, owner });
      });
    }
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = ranges[mid]!;
      if (n < r.start) hi = mid - 1;
      else if (n > r.end) lo = mid + 1;
      else return r.owner;
    }
    return undefined;
  };
  const head = o.head.endsWith('\n') ? o.head : `${o.head}\n`;
  add(head, undefined);
  for (const u of out.userlists) add(u.text, u.appId);
  const sslCerts = (o.sslCerts?.length ? o.sslCerts : [o.defaultSslCert ?? '/etc/ssl/cert.pem'])
    .map((c) => `crt ${c}`)
    .join(' ');
  if (o.bindHttpHttps !== false) {
    add(t.get('HTTP_FRONTEND_HEAD'), undefined);
    if (o.stripHostPort)
      add(
        '  http-request set-header Host %[req.hdr(host),regsub(:80$,)] if { req.hdr(host) -m end :80 }\n',
        undefined,
      );
    for (const f of out.http.sort(byWeight)) add(f.text, f.appId);
  }
  add(t.get('HTTP_FRONTEND_APPID_HEAD'), undefined);
  for (const a of out.appid) add(a.text, a.appId);
  if (o.bindHttpHttps !== false) {
    if (o.groupHttpsByVhost) addGroupedHttps(out.vhosts, t, sslCerts, add);
    else {
      add(pyFormat(t.get('HTTPS_FRONTEND_HEAD'), { sslCerts }), undefined);
      if (o.stripHostPort)
        add(
          '  http-request set-header Host %[req.hdr(host),regsub(:443$,)] if { req.hdr(host) -m end :443 }\n',
          undefined,
        );
      for (const f of out.https.sort(byWeight)) add(f.text, f.appId);
    }
  }
  for (const f of out.frontends) add(f.text, f.appId);
  for (const b of out.backends) add(b.text, b.appId);
  const mapText = (pairs: [string, string][]): string => {
    const seen = new Set<string>();
    let s = '';
    for (const [k, v] of pairs) {
      if (seen.has(k)) continue;
      seen.add(k);
      s += `${k} ${v}\n`;
    }
    return s;
  };
  const backends = new Map<string, Service>();
  for (const s of selected) if (!failed.has(s.appId)) backends.set(backendName(s), s);
  return {
    text: chunks.join(''),
    ownerOfLine,
    domainMap: mapText(out.domainMap),
    appMap: mapText(out.appMap),
    errors,
    backends,
  };
}

/** `--group-https-by-vhost` (§1.8): an SNI splitter on :443 and one TLS frontend per vhost. */
function addGroupedHttps(
  vhosts: Output['vhosts'],
  t: Templater,
  defaultCerts: string,
  add: (text: string, owner: string | undefined) => void,
): void {
  const byHost = new Map<string, { service: Service; fragment: string; order: number }[]>();
  let order = 0;
  for (const v of vhosts) {
    const list = byHost.get(v.host) ?? [];
    list.push({ service: v.service, fragment: v.fragment, order: order++ });
    byHost.set(v.host, list);
  }
  const hosts = [...byHost.keys()].sort();
  add(t.get('HTTPS_GROUPED_FRONTEND_HEAD'), undefined);
  for (const h of hosts)
    add(pyFormat(t.get('HTTPS_GROUPED_VHOST_FRONTEND_ACL'), { backend: sanitize(h), host: h }), undefined);
  for (const h of hosts) {
    const name = sanitize(h);
    const entries = byHost.get(h)!;
    const certs = [...new Set(entries.map((e) => e.service.sslCert).filter((c): c is string => !!c))];
    const opts = [...new Set(entries.map((e) => e.service.bindOptions).filter((c): c is string => !!c))];
    add(pyFormat(t.get('HTTPS_GROUPED_VHOST_BACKEND_HEAD'), { name }), undefined);
    add(
      pyFormat(t.get('HTTPS_GROUPED_VHOST_FRONTEND_HEAD'), {
        name,
        sslCerts: certs.length ? certs.map((c) => `crt ${c}`).join(' ') : defaultCerts,
        bindOpts: opts.length ? ` ${opts.join(' ')}` : '',
      }),
      undefined,
    );
    const sorted = [...entries].sort(
      (a, b) => b.service.backendWeight - a.service.backendWeight || a.order - b.order,
    );
    for (const e of sorted) add(e.fragment, e.service.appId);
  }
}
