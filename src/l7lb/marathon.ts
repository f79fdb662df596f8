// Marathon's `/v2/apps?embed=apps.tasks` answer as the controller reads it (specs/marathon-lb.md
// §3). JSON nulls are stripped first (as Marathon-LB does: "absent" and "null" mean the same);
// each app is validated on its own, so one malformed app is reported and skipped, never fatal.
import { z } from 'zod';
import { parseAddress } from '../net/index.js';

/** Removes every object key whose value is null, recursively (array elements are kept). In
 *  place: the body is freshly parsed JSON nobody else holds. */
export function stripNulls(v: unknown): unknown {
  if (Array.isArray(v)) {
    for (const x of v) stripNulls(x);
  } else if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k in o) {
      const x = o[k];
      if (x === null) delete o[k];
      else if (typeof x === 'object') stripNulls(x);
    }
  }
  return v;
}

const port = z.number().int().min(0).max(65535);
const labels = z.record(z.string(), z.string());

// Fields that end up in HAProxy's config (backend names, ACLs, server lines, health-check
// requests) have a grammar, so that a Marathon document cannot write config text.
/** Marathon's path ids: `/` + segments of lower-case letters, digits, `.` and `-`. */
const APP_ID = /^(?:\/[a-z0-9](?:[a-z0-9.-]{0,62}[a-z0-9])?)+$/;
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const HC_PATH = /^\/[A-Za-z0-9._~!$&*+,;=:@%/?-]{0,1023}$/;
const HC_PROTOCOL = /^[A-Z_]{1,32}$/;
const isAppId = (v: string): boolean => APP_ID.test(v);
/** Empty is allowed: such a task is skipped (§1.3 step 5). */
const isHost = (v: string): boolean => v === '' || HOST_NAME.test(v) || parseAddress(v) !== undefined;
const isIp = (v: string): boolean => parseAddress(v) !== undefined;
const isHcPath = (v: string): boolean => HC_PATH.test(v);
const isHcProtocol = (v: string): boolean => HC_PROTOCOL.test(v);

export const healthCheckSchema = z
  .object({
    protocol: z.string().refine(isHcProtocol, 'is not a health-check protocol').optional(),
    path: z.string().refine(isHcPath, 'is not a URL path').optional(),
    portIndex: z.number().int().optional(),
    port: z.number().int().optional(),
    gracePeriodSeconds: z.number().optional(),
    intervalSeconds: z.number().optional(),
    timeoutSeconds: z.number().optional(),
    maxConsecutiveFailures: z.number().int().optional(),
  })
  .passthrough();

const portMapping = z
  .object({
    containerPort: port.optional(),
    hostPort: port.optional(),
    servicePort: port.optional(),
    name: z.string().optional(),
    labels: labels.optional(),
  })
  .passthrough();

export const taskSchema = z
  .object({
    id: z.string(),
    appId: z.string().optional(),
    host: z.string().refine(isHost, 'is not a host name or IP address').optional(),
    state: z.string().optional(),
    ports: z.array(port).optional(),
    ipAddresses: z
      .array(z.object({ ipAddress: z.string().refine(isIp, 'is not an IP address') }).passthrough())
      .optional(),
    healthCheckResults: z.array(z.object({ alive: z.boolean().optional() }).passthrough()).optional(),
    draining: z.boolean().optional(),
  })
  .passthrough();

export const appSchema = z
  .object({
    id: z.string().refine(isAppId, 'is not a Marathon app id (/ and lower-case a-z0-9.-)'),
    labels: labels.optional(),
    instances: z.number().int().optional(),
    ports: z.array(port).optional(),
    portDefinitions: z.array(z.object({ port: port.optional() }).passthrough()).optional(),
    networks: z.array(z.object({ mode: z.string().optional() }).passthrough()).optional(),
    ipAddress: z
      .object({
        discovery: z
          .object({ ports: z.array(z.object({ number: port }).passthrough()).optional() })
          .optional(),
      })
      .passthrough()
      .optional(),
    container: z
      .object({
        portMappings: z.array(portMapping).optional(),
        docker: z
          .object({ network: z.string().optional(), portMappings: z.array(portMapping).optional() })
          .passthrough()
          .optional(),
      })
      .passthrough()
      .optional(),
    healthChecks: z.array(healthCheckSchema).optional(),
    tasks: z.array(taskSchema).optional(),
    versionInfo: z.object({ lastScalingAt: z.string().optional() }).passthrough().optional(),
    readinessCheckResults: z
      .array(z.object({ taskId: z.string(), ready: z.boolean().optional() }).passthrough())
      .optional(),
  })
  .passthrough();

export type MarathonApp = z.infer<typeof appSchema>;
export type MarathonTask = z.infer<typeof taskSchema>;
export type MarathonHealthCheck = z.infer<typeof healthCheckSchema>;

export interface AppsParseResult {
  readonly apps: MarathonApp[];
  /** One line per rejected app, naming the app and the field. */
  readonly errors: string[];
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const optStr = (v: unknown): boolean => v === undefined || typeof v === 'string';
const optOf = (v: unknown, ok: (s: string) => boolean): boolean =>
  v === undefined || (typeof v === 'string' && ok(v));
const optPort = (v: unknown): boolean =>
  v === undefined || (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535);
const optArr = (v: unknown, item: (x: unknown) => boolean): boolean =>
  v === undefined || (Array.isArray(v) && v.every(item));

/** The shapes `appSchema` accepts, checked without copying (thousands of tasks per resync); a
 *  false here sends the app through zod, which names the field. */
function looksValid(a: unknown): a is MarathonApp {
  if (!isObj(a) || typeof a.id !== 'string' || !isAppId(a.id)) return false;
  if (
    a.labels !== undefined &&
    (!isObj(a.labels) || !Object.values(a.labels).every((v) => typeof v === 'string'))
  )
    return false;
  if (a.instances !== undefined && !Number.isInteger(a.instances)) return false;
  if (!optArr(a.ports, optPort)) return false;
  if (!optArr(a.portDefinitions, (d) => isObj(d) && optPort(d.port))) return false;
  if (!optArr(a.networks, (n) => isObj(n) && optStr(n.mode))) return false;
  if (
    !optArr(
      a.readinessCheckResults,
      (r) =>
        isObj(r) && typeof r.taskId === 'string' && (r.ready === undefined || typeof r.ready === 'boolean'),
    )
  )
    return false;
  if (a.versionInfo !== undefined && (!isObj(a.versionInfo) || !optStr(a.versionInfo.lastScalingAt)))
    return false;
  if (a.ipAddress !== undefined) {
    const d = isObj(a.ipAddress) ? a.ipAddress.discovery : null;
    if (
      d !== undefined &&
      (!isObj(d) || !optArr(d.ports, (p) => isObj(p) && optPort(p.number) && p.number !== undefined))
    )
      return false;
  }
  const stringMap = (v: unknown): boolean =>
    v === undefined || (isObj(v) && Object.values(v).every((x) => typeof x === 'string'));
  const mapping = (m: unknown): boolean =>
    isObj(m) &&
    optPort(m.containerPort) &&
    optPort(m.hostPort) &&
    optPort(m.servicePort) &&
    optStr(m.name) &&
    stringMap(m.labels);
  if (a.container !== undefined) {
    if (!isObj(a.container)) return false;
    if (!optArr(a.container.portMappings, mapping)) return false;
    const docker = a.container.docker;
    if (
      docker !== undefined &&
      (!isObj(docker) || !optStr(docker.network) || !optArr(docker.portMappings, mapping))
    )
      return false;
  }
  const num = (v: unknown): boolean => v === undefined || typeof v === 'number';
  if (
    !optArr(
      a.healthChecks,
      (h) =>
        isObj(h) &&
        optOf(h.protocol, isHcProtocol) &&
        optOf(h.path, isHcPath) &&
        num(h.gracePeriodSeconds) &&
        num(h.intervalSeconds) &&
        num(h.timeoutSeconds) &&
        (h.portIndex === undefined || Number.isInteger(h.portIndex)) &&
        (h.port === undefined || Number.isInteger(h.port)) &&
        (h.maxConsecutiveFailures === undefined || Number.isInteger(h.maxConsecutiveFailures)),
    )
  )
    return false;
  return optArr(
    a.tasks,
    (t) =>
      isObj(t) &&
      typeof t.id === 'string' &&
      optStr(t.appId) &&
      optOf(t.host, isHost) &&
      optStr(t.state) &&
      optArr(t.ports, optPort) &&
      optArr(t.ipAddresses, (x) => isObj(x) && typeof x.ipAddress === 'string' && isIp(x.ipAddress)) &&
      optArr(
        t.healthCheckResults,
        (x) => isObj(x) && (x.alive === undefined || typeof x.alive === 'boolean'),
      ) &&
      (t.draining === undefined || typeof t.draining === 'boolean'),
  );
}

/** Parses `{"apps": […]}`; a bad envelope throws, a bad app is skipped with an error. */
export function parseApps(body: unknown): AppsParseResult {
  const clean = stripNulls(body);
  const env = z.object({ apps: z.array(z.unknown()) }).safeParse(clean);
  if (!env.success)
    throw new Error(`Marathon /v2/apps: ${env.error.issues[0]?.message ?? 'bad body'} at "apps"`);
  const apps: MarathonApp[] = [];
  const errors: string[] = [];
  env.data.apps.forEach((raw, i) => {
    if (looksValid(raw)) {
      apps.push(raw);
      return;
    }
    const r = appSchema.safeParse(raw);
    if (r.success) apps.push(r.data);
    else {
      const id = (raw as { id?: unknown } | undefined)?.id;
      const issue = r.error.issues[0]!;
      errors.push(
        // An id outside the grammar is not echoed (it may carry control characters).
        `app ${typeof id === 'string' && isAppId(id) ? id : `#${i}`}: field "${issue.path.join('.')}": ${issue.message}`,
      );
    }
  });
  return { apps, errors };
}
