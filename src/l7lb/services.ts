// Marathon apps → services → backends, as Marathon-LB's `get_apps` (specs/marathon-lb.md §1.3,
// §1.4, §1.12, §3.7). Pure: host names are resolved beforehand (`hosts`), the health verdict cache
// is passed in. Labels are read through their grammars (labels.ts): a bad one drops that app and
// is reported, never thrown.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { LabelError, parseAppLabels, parsePortLabels, portLabel, type Auth } from './labels.js';
import type { MarathonApp, MarathonHealthCheck, MarathonTask } from './marathon.js';

export interface Backend {
  readonly host: string;
  readonly ip: string;
  readonly port: number;
  readonly draining: boolean;
  /** `HAPROXY_{n}_SERVER_WEIGHT` of the task's app (dcnet extension: canary traffic shares). */
  readonly weight?: number;
}

export interface Service {
  readonly appId: string;
  /** The service port from Marathon (the key of this service within its app). */
  readonly originalPort: number;
  /** Index n of `HAPROXY_{n}_*`. */
  readonly index: number;
  /** Bind port: the service port or `HAPROXY_{n}_PORT`; also the `_<port>` of the names. */
  servicePort: number;
  /** App labels (per-port template overrides are read from here). */
  readonly labels: Readonly<Record<string, string>>;
  healthCheck: MarathonHealthCheck | undefined;
  mode: string | undefined;
  appGroups: string[];
  portGroups: string[];
  enabled: boolean;
  hostname: string | undefined;
  path: string | undefined;
  backendWeight: number;
  bindAddr: string;
  bindOptions: string | undefined;
  sslCert: string | undefined;
  balance: string;
  sticky: boolean;
  redirectHttpToHttps: boolean;
  useHsts: boolean;
  auth: Auth | undefined;
  proxypath: string | undefined;
  revproxypath: string | undefined;
  redirpath: string | undefined;
  networkAllowed: string | undefined;
  healthCheckPortIndex: number | undefined;
  readonly backends: Backend[];
}

export interface ServiceOptions {
  readonly strictMode?: boolean;
  /** `--health-check`: only tasks Marathon reports alive. */
  readonly healthCheck?: boolean;
  /** `--min/max-serv-port-ip-per-task`; [0, 0] disables assignment. */
  readonly ipPerTaskPortRange?: readonly [number, number];
  /** The app named FRAMEWORK_NAME is skipped (the LB itself). */
  readonly frameworkName?: string | undefined;
  /** host name → IP (names not in the map, and not IPs, are unresolvable). */
  readonly hosts?: ReadonlyMap<string, string>;
  /** Last health verdict per task id (Marathon-LB's cache; unseen = not alive). */
  readonly healthCache?: Map<string, boolean>;
  /** `HAPROXY_{n}_<TEMPLATE>` labels are allowed (operator's `--allow-template-labels`). */
  readonly templateLabels?: boolean;
}

export interface ServicesResult {
  readonly services: Service[];
  /** Apps dropped because of a bad label, with the reason. */
  readonly errors: { appId: string; error: string }[];
}

const SKIPPED_STATES = new Set([
  'TASK_STAGING',
  'TASK_STARTING',
  'TASK_KILLING',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
  'TASK_UNKNOWN',
]);

export const parseBool = (v: string): boolean => ['true', 't', 'yes', 'y'].includes(v.toLowerCase());

export type NetworkingMode = 'host' | 'container' | 'container/bridge';

export function networkingMode(app: MarathonApp): NetworkingMode {
  const networks = app.networks;
  if (networks && networks.length > 0) {
    const mode = networks[networks.length - 1]!.mode;
    return mode === 'host' || mode === 'container/bridge' ? mode : 'container';
  }
  const dockerNet = app.container?.docker?.network;
  if (dockerNet === 'USER') return 'container';
  if (dockerNet === 'BRIDGE') return 'container/bridge';
  if (app.ipAddress && Object.keys(app.ipAddress).length > 0) return 'container';
  return 'host';
}

function portMappings(app: MarathonApp) {
  const docker = app.container?.docker?.portMappings;
  return docker && docker.length > 0 ? docker : (app.container?.portMappings ?? []);
}

/** Task → (ip, ports) by networking mode (§3.7); undefined when either is missing. */
export function taskIpAndPorts(
  app: MarathonApp,
  task: MarathonTask,
  hosts: ReadonlyMap<string, string> = new Map(),
): { ip: string; ports: number[] } | undefined {
  return appAddressing(app)(task, hosts);
}

const EMPTY_HOSTS: ReadonlyMap<string, string> = new Map();
const nonEmpty = (l: number[] | undefined): number[] | undefined => (l && l.length > 0 ? l : undefined);

/** The per-app half of §3.7, worked out once per app: a function from task to (ip, ports). */
function appAddressing(
  app: MarathonApp,
): (task: MarathonTask, hosts: ReadonlyMap<string, string>) => { ip: string; ports: number[] } | undefined {
  const mode = networkingMode(app);
  const mappingPorts = nonEmpty(
    portMappings(app)
      .map((m) => m.containerPort)
      .filter((p): p is number => p !== undefined),
  );
  const defPorts = nonEmpty(
    app.portDefinitions?.map((d) => d.port).filter((p): p is number => p !== undefined),
  );
  const resolve = (h: string | undefined, hosts: ReadonlyMap<string, string>): string | undefined =>
    h === undefined ? undefined : isIP(h) ? h : hosts.get(h);
  if (mode === 'container') {
    const ports = nonEmpty(app.ipAddress?.discovery?.ports?.map((p) => p.number)) ?? mappingPorts;
    return (task) => {
      const ip = task.ipAddresses?.[0]?.ipAddress;
      return ip && ports ? { ip, ports } : undefined;
    };
  }
  const fallback = mode === 'container/bridge' ? (defPorts ?? mappingPorts) : defPorts;
  return (task, hosts) => {
    const ip = resolve(task.host, hosts);
    const ports = nonEmpty(task.ports) ?? fallback;
    return ip && ports ? { ip, ports } : undefined;
  };
}

/** Auto service ports for IP-per-task apps without them (Marathon-LB's ServicePortAssigner). */
export class ServicePortAssigner {
  private readonly used = new Set<number>();
  private readonly byKey = new Map<string, number | undefined>();
  constructor(private readonly range: readonly [number, number]) {}

  private enabled(): boolean {
    return !(this.range[0] === 0 && this.range[1] === 0) && this.range[1] >= this.range[0];
  }

  private assign(appId: string, taskPort: number): number | undefined {
    const key = `${appId}-${taskPort}`;
    if (this.byKey.has(key)) return this.byKey.get(key);
    const [min, max] = this.range;
    const size = max - min + 1;
    let port: number | undefined;
    for (let i = 0; i < 50 && port === undefined; i++) {
      const h = createHash('sha1').update(`${appId}-${taskPort}-${i}`).digest('hex').slice(0, 8);
      const c = min + (Number.parseInt(h, 16) % size);
      if (!this.used.has(c)) port = c;
    }
    for (let c = min; port === undefined && c <= max; c++) if (!this.used.has(c)) port = c;
    if (port !== undefined) this.used.add(port);
    this.byKey.set(key, port);
    return port;
  }

  /** The app's service ports; `undefined` entries are indices without a port (skipped). */
  servicePorts(app: MarathonApp): (number | undefined)[] {
    const mode = networkingMode(app);
    if (mode === 'container' || mode === 'container/bridge') {
      // Positions are kept: a mapping without a service port leaves a hole instead of shifting
      // the later ones onto the wrong task ports (Marathon-LB drops it, §1.13 quirk 8).
      const sp = portMappings(app).map((m) => (m.servicePort ? m.servicePort : undefined));
      if (sp.some((p) => p !== undefined)) return sp;
    }
    let ports: number[] = app.ports ?? [];
    if (app.portDefinitions) ports = app.portDefinitions.map((d) => d.port ?? 0);
    if (ports.length > 0) return ports;
    if (mode === 'container' && this.enabled() && (app.tasks?.length ?? 0) > 0) {
      const t = taskIpAndPorts(app, app.tasks![0]!);
      if (t) return t.ports.map((p) => this.assign(app.id, p));
    }
    return [];
  }
}

/** First health check with a truthy `port` or `portIndex === i` (§1.3 step 4). */
export function healthCheckFor(app: MarathonApp, i: number): MarathonHealthCheck | undefined {
  return (app.healthChecks ?? []).find((h) => !!h.port || h.portIndex === i);
}

function newService(
  app: MarathonApp,
  index: number,
  port: number,
  strict: boolean,
  appGroups: string[],
): Service {
  const hc = healthCheckFor(app, index);
  return {
    appId: app.id,
    originalPort: port,
    index,
    servicePort: port,
    labels: app.labels ?? {},
    healthCheck: hc,
    mode: hc?.protocol === 'HTTP' ? 'http' : undefined,
    appGroups,
    portGroups: [],
    enabled: !strict,
    hostname: undefined,
    path: undefined,
    backendWeight: 0,
    bindAddr: '*',
    bindOptions: undefined,
    sslCert: undefined,
    balance: 'roundrobin',
    sticky: false,
    redirectHttpToHttps: false,
    useHsts: false,
    auth: undefined,
    proxypath: undefined,
    revproxypath: undefined,
    redirpath: undefined,
    networkAllowed: undefined,
    healthCheckPortIndex: undefined,
    backends: [],
  };
}

/** Applies the `HAPROXY_{n}_*` labels of index n (§1.4), typed by their grammars. Marathon-LB
 *  applies them in alphabetical order; what that order decides is spelled out here (PATH gives
 *  weight 1 only if BACKEND_WEIGHT left it 0). */
function applyLabels(
  s: Service,
  labels: Readonly<Record<string, string>>,
  n: number,
  o: ServiceOptions,
): void {
  const l = parsePortLabels(labels, n, { templateLabels: o.templateLabels === true });
  if (l.GROUP !== undefined) s.portGroups = l.GROUP;
  if (l.ENABLED !== undefined) s.enabled = l.ENABLED;
  if (l.VHOST !== undefined) s.hostname = l.VHOST;
  if (l.BACKEND_WEIGHT !== undefined) s.backendWeight = l.BACKEND_WEIGHT;
  if (l.PATH !== undefined) {
    s.path = l.PATH;
    if (s.backendWeight === 0) s.backendWeight = 1;
  }
  if (l.PORT !== undefined) s.servicePort = l.PORT;
  if (l.BIND_ADDR !== undefined) s.bindAddr = l.BIND_ADDR;
  if (l.BIND_OPTIONS !== undefined) s.bindOptions = l.BIND_OPTIONS;
  if (l.SSL_CERT !== undefined) s.sslCert = l.SSL_CERT;
  if (l.MODE !== undefined) s.mode = l.MODE;
  if (l.BALANCE !== undefined) s.balance = l.BALANCE;
  if (l.STICKY !== undefined) s.sticky = l.STICKY;
  if (l.REDIRECT_TO_HTTPS !== undefined) s.redirectHttpToHttps = l.REDIRECT_TO_HTTPS;
  if (l.USE_HSTS !== undefined) s.useHsts = l.USE_HSTS;
  if (l.AUTH !== undefined) s.auth = l.AUTH;
  if (l.HTTP_BACKEND_PROXYPASS_PATH !== undefined) s.proxypath = l.HTTP_BACKEND_PROXYPASS_PATH;
  if (l.HTTP_BACKEND_REVPROXY_PATH !== undefined) s.revproxypath = l.HTTP_BACKEND_REVPROXY_PATH;
  if (l.HTTP_BACKEND_REDIR !== undefined) s.redirpath = l.HTTP_BACKEND_REDIR;
  if (l.BACKEND_NETWORK_ALLOWED_ACL !== undefined) s.networkAllowed = l.BACKEND_NETWORK_ALLOWED_ACL;
  if (l.BACKEND_HEALTHCHECK_PORT_INDEX !== undefined)
    s.healthCheckPortIndex = l.BACKEND_HEALTHCHECK_PORT_INDEX;
}

function taskAlive(task: MarathonTask, app: MarathonApp, opts: ServiceOptions): boolean {
  if (!opts.healthCheck || (app.healthChecks?.length ?? 0) === 0) return true;
  const cache = opts.healthCache;
  if (task.healthCheckResults === undefined) return cache?.get(task.id) ?? false;
  const alive = task.healthCheckResults.some((r) => r.alive === true);
  cache?.set(task.id, alive);
  return alive;
}

/** Merges apps of one HAPROXY_DEPLOYMENT_GROUP into one (zdd, §1.12). */
export function mergeDeploymentGroups(apps: readonly MarathonApp[]): MarathonApp[] {
  const out: MarathonApp[] = [];
  const groups = new Map<string, MarathonApp>();
  for (const app of apps) {
    const g = app.labels?.HAPROXY_DEPLOYMENT_GROUP;
    if (!g) {
      out.push(app);
      continue;
    }
    const id = `/${g}`;
    const prev = groups.get(id);
    if (!prev) {
      const renamed = { ...app, id };
      groups.set(id, renamed);
      out.push(renamed);
      continue;
    }
    const merged = mergeTwo(prev, { ...app, id });
    groups.set(id, merged);
    out[out.indexOf(prev)] = merged;
  }
  return out;
}

function mergeTwo(a: MarathonApp, b: MarathonApp): MarathonApp {
  const started = (x: MarathonApp): string => x.labels?.HAPROXY_DEPLOYMENT_STARTED_AT ?? '';
  let [oldApp, newApp] = started(a) > started(b) ? [b, a] : [a, b];
  let target = 1;
  if (newApp.labels?.HAPROXY_DEPLOYMENT_NEW_INSTANCES !== undefined) {
    // Upstream's `!= 0` compares a string with an int and is always true.
    const scaled = (x: MarathonApp): string => x.versionInfo?.lastScalingAt ?? '';
    if (scaled(oldApp) > scaled(newApp)) [oldApp, newApp] = [newApp, oldApp];
    target = parseAppLabels(newApp.labels).HAPROXY_DEPLOYMENT_TARGET_INSTANCES ?? 0;
  }
  const newTasks = newApp.tasks ?? [];
  const healthyNew =
    (newApp.healthChecks?.length ?? 0) > 0
      ? newTasks.filter((t) => t.healthCheckResults?.some((r) => r.alive === true)).length
      : (newApp.instances ?? 0);
  const drainable = Math.max(0, healthyNew + (oldApp.instances ?? 0) - target);
  const oldTasks = [...(oldApp.tasks ?? [])].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  const drainCount = Math.min(oldTasks.length, healthyNew, drainable);
  // Each task keeps its own app's labels for per-server options (weights of a canary split).
  const drained = oldTasks.map((t, i) => ({
    ...t,
    sourceLabels: oldApp.labels ?? {},
    ...(i < drainCount && { draining: true }),
  }));
  const fresh = newTasks.map((t) => ({ ...t, sourceLabels: newApp.labels ?? {} }));
  return { ...oldApp, tasks: [...drained, ...fresh] };
}

/** `get_apps`: every service of every app, with its backends. */
export function buildServices(rawApps: readonly MarathonApp[], opts: ServiceOptions = {}): ServicesResult {
  const errors: { appId: string; error: string }[] = [];
  const services: Service[] = [];
  const assigner = new ServicePortAssigner(opts.ipPerTaskPortRange ?? [10050, 10100]);
  // App-wide labels first: the zdd ones decide ids and merges.
  const valid: MarathonApp[] = [];
  for (const app of rawApps) {
    try {
      parseAppLabels(app.labels);
      valid.push(app);
    } catch (err) {
      if (!(err instanceof LabelError)) throw err;
      errors.push({ appId: app.id, error: err.message });
    }
  }
  for (const app of mergeDeploymentGroups(valid)) {
    if (opts.frameworkName && app.id.replace(/^\//, '') === opts.frameworkName) continue;
    try {
      const groups = parseAppLabels(app.labels).HAPROXY_GROUP ?? [];
      services.push(...appServices(app, assigner, opts, groups));
    } catch (err) {
      if (!(err instanceof LabelError)) throw err;
      errors.push({ appId: app.id, error: err.message });
    }
  }
  return { services, errors };
}

function appServices(
  app: MarathonApp,
  assigner: ServicePortAssigner,
  opts: ServiceOptions,
  appGroups: string[],
): Service[] {
  const ports = assigner.servicePorts(app);
  const labels = app.labels ?? {};
  const byPort = new Map<number, Service>();
  ports.forEach((port, i) => {
    if (port === undefined) return;
    const s = newService(app, i, port, opts.strictMode ?? false, appGroups);
    applyLabels(s, labels, i, opts);
    if (!s.healthCheck && s.healthCheckPortIndex !== undefined) {
      const hc = healthCheckFor(app, s.healthCheckPortIndex);
      if (hc) {
        s.healthCheck = hc;
        if (['HTTP', 'HTTPS', 'MESOS_HTTP', 'MESOS_HTTPS'].includes(hc.protocol ?? 'HTTP')) s.mode = 'http';
      }
    }
    byPort.set(port, s);
  });
  // Readiness (dcnet): a task Marathon reports not ready yet gets no traffic (Marathon-LB ignored
  // readiness, §1.13 quirk 10). Results exist only with embed=apps.readiness, during deployments.
  const notReady = app.readinessCheckResults?.length
    ? new Set(app.readinessCheckResults.filter((r) => r.ready === false).map((r) => r.taskId))
    : undefined;
  const address = appAddressing(app);
  for (const task of app.tasks ?? []) {
    if (!task.host) continue;
    if (notReady?.has(task.id)) continue;
    if (task.state !== undefined && SKIPPED_STATES.has(task.state)) continue;
    if (!taskAlive(task, app, opts)) continue;
    const where = address(task, opts.hosts ?? EMPTY_HOSTS);
    if (!where) continue;
    const n = Math.min(where.ports.length, ports.length);
    const own = (task as { sourceLabels?: Record<string, string> }).sourceLabels ?? labels;
    for (let i = 0; i < n; i++) {
      const sp = ports[i];
      const s = sp === undefined ? undefined : byPort.get(sp);
      if (!s) continue;
      const w = portLabel(own, i, 'SERVER_WEIGHT');
      s.backends.push({
        host: task.host,
        ip: where.ip,
        port: where.ports[i]!,
        draining: task.draining === true,
        ...(w !== undefined && { weight: w }),
      });
    }
  }
  return [...byPort.values()];
}

/** Task host names that need DNS (not IP literals). */
export function hostsToResolve(apps: readonly MarathonApp[]): string[] {
  const names = new Set<string>();
  for (const a of apps) for (const t of a.tasks ?? []) if (t.host && !isIP(t.host)) names.add(t.host);
  return [...names];
}
