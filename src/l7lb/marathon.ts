// Marathon's `/v2/apps?embed=apps.tasks` answer as the controller reads it (specs/marathon-lb.md
// §3). JSON nulls are stripped first (as Marathon-LB does: "absent" and "null" mean the same);
// each app is validated on its own, so one malformed app is reported and skipped, never fatal.
import { z } from 'zod';

/** Removes every object key whose value is null, recursively (array elements are kept). */
export function stripNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNulls);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = stripNulls(x);
    return out;
  }
  return v;
}

const port = z.number().int().min(0).max(65535);
const labels = z.record(z.string(), z.string());

export const healthCheckSchema = z
  .object({
    protocol: z.string().optional(),
    path: z.string().optional(),
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
    host: z.string().optional(),
    state: z.string().optional(),
    ports: z.array(port).optional(),
    ipAddresses: z.array(z.object({ ipAddress: z.string() }).passthrough()).optional(),
    healthCheckResults: z.array(z.object({ alive: z.boolean().optional() }).passthrough()).optional(),
    draining: z.boolean().optional(),
  })
  .passthrough();

export const appSchema = z
  .object({
    id: z.string().min(1),
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

/** Parses `{"apps": […]}`; a bad envelope throws, a bad app is skipped with an error. */
export function parseApps(body: unknown): AppsParseResult {
  const clean = stripNulls(body);
  const env = z.object({ apps: z.array(z.unknown()) }).safeParse(clean);
  if (!env.success)
    throw new Error(`Marathon /v2/apps: ${env.error.issues[0]?.message ?? 'bad body'} at "apps"`);
  const apps: MarathonApp[] = [];
  const errors: string[] = [];
  env.data.apps.forEach((raw, i) => {
    const r = appSchema.safeParse(raw);
    if (r.success) apps.push(r.data);
    else {
      const id = (raw as { id?: unknown } | undefined)?.id;
      const issue = r.error.issues[0]!;
      errors.push(
        `app ${typeof id === 'string' ? id : `#${i}`}: field "${issue.path.join('.')}": ${issue.message}`,
      );
    }
  });
  return { apps, errors };
}
