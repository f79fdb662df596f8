// Marathon app definitions as the emulator accepts them: the fields dcnet, Mesos-DNS and
// Marathon-LB read (specs/marathon-lb.md §3), validated with Marathon-style 422 errors that name
// the field, and normalised with Marathon's defaults.
import { z } from 'zod';

const labels = z.record(z.string(), z.string());
const protocol = z.enum(['tcp', 'udp', 'udp,tcp']);
const portNumber = z.number().int().min(0).max(65535);

const healthCheck = z
  .object({
    protocol: z.enum(['HTTP', 'TCP', 'MESOS_HTTP', 'MESOS_TCP']).default('HTTP'),
    path: z.string().optional(),
    portIndex: z.number().int().min(0).optional(),
    port: portNumber.optional(),
    gracePeriodSeconds: z.number().min(0).default(300),
    intervalSeconds: z.number().min(0.1).default(60),
    timeoutSeconds: z.number().min(0.1).default(20),
    maxConsecutiveFailures: z.number().int().min(0).default(3),
    delaySeconds: z.number().min(0).default(15),
  })
  .strict();

export const appSchema = z
  .object({
    id: z.string().regex(/^\/?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\/[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, {
      message: 'must be a path of lowercase letters, digits and hyphens, like /group/app',
    }),
    cmd: z.string().optional(),
    instances: z.number().int().min(0).default(1),
    cpus: z.number().min(0).default(0.1),
    mem: z.number().min(0).default(32),
    networks: z
      .array(
        z
          .object({
            mode: z.enum(['host', 'container', 'container/bridge']).default('container'),
            name: z.string().optional(),
            labels: labels.optional(),
          })
          .strict(),
      )
      .optional(),
    portDefinitions: z
      .array(
        z
          .object({
            port: portNumber,
            name: z.string().optional(),
            protocol: protocol.default('tcp'),
            labels: labels.optional(),
          })
          .strict(),
      )
      .optional(),
    requirePorts: z.boolean().default(false),
    container: z
      .object({
        type: z.enum(['MESOS', 'DOCKER']).default('MESOS'),
        docker: z.object({ image: z.string() }).passthrough().optional(),
        portMappings: z
          .array(
            z
              .object({
                containerPort: portNumber,
                hostPort: portNumber.optional(),
                servicePort: portNumber.default(0),
                name: z.string().optional(),
                protocol: protocol.default('tcp'),
                labels: labels.optional(),
              })
              .strict(),
          )
          .optional(),
      })
      .passthrough()
      .optional(),
    labels: labels.default({}),
    env: z.record(z.string(), z.string()).default({}),
    healthChecks: z.array(healthCheck).default([]),
    acceptedResourceRoles: z.array(z.string()).optional(),
    constraints: z.array(z.array(z.string())).optional(),
  })
  .passthrough();

export type AppInput = z.input<typeof appSchema>;
export type NetworkMode = 'host' | 'container' | 'container/bridge';

export interface AppPort {
  /** Port inside the task's network namespace (host mode: the host port). */
  containerPort: number;
  /** Requested host port: undefined = none (container mode), 0 = dynamic. */
  hostPort: number | undefined;
  servicePort: number;
  name?: string;
  protocol: 'tcp' | 'udp' | 'udp,tcp';
  labels: Record<string, string>;
}

export interface App {
  id: string;
  cmd?: string;
  instances: number;
  cpus: number;
  mem: number;
  mode: NetworkMode;
  networks: { mode: NetworkMode; name?: string; labels?: Record<string, string> }[];
  ports: AppPort[];
  requirePorts: boolean;
  container?: { type: 'MESOS' | 'DOCKER'; docker?: { image: string } };
  labels: Record<string, string>;
  env: Record<string, string>;
  healthChecks: z.infer<typeof healthCheck>[];
  acceptedResourceRoles?: string[];
  constraints?: string[][];
  version: string;
  /** The definition as submitted (echoed back with Marathon's defaults filled in). */
  raw: Record<string, unknown>;
}

export interface ValidationDetail {
  path: string;
  errors: string[];
}

/** Marathon's 422 body. */
export class AppValidationError extends Error {
  constructor(readonly details: ValidationDetail[]) {
    super(`Object is not valid: ${details.map((d) => `${d.path}: ${d.errors.join(', ')}`).join('; ')}`);
  }
  body(): { message: string; details: ValidationDetail[] } {
    return { message: 'Object is not valid', details: this.details };
  }
}

const jsonPath = (path: readonly PropertyKey[]): string => `/${path.map(String).join('/')}`;

/** Validates and normalises an app; `networks` names must be among `knownNetworks`. */
export function parseApp(
  input: unknown,
  knownNetworks: readonly string[],
  version = new Date().toISOString(),
): App {
  const r = appSchema.safeParse(input);
  if (!r.success) {
    const byPath = new Map<string, string[]>();
    for (const i of r.error.issues)
      byPath.set(jsonPath(i.path), [...(byPath.get(jsonPath(i.path)) ?? []), i.message]);
    throw new AppValidationError([...byPath].map(([path, errors]) => ({ path, errors })));
  }
  const a = r.data;
  const details: ValidationDetail[] = [];
  const fail = (path: string, error: string): void => {
    const d = details.find((x) => x.path === path);
    if (d) d.errors.push(error);
    else details.push({ path, errors: [error] });
  };
  const networks = a.networks ?? [{ mode: 'host' as const }];
  const modes = new Set(networks.map((n) => n.mode));
  if (networks.length === 0) fail('/networks', 'must not be empty (omit it for host networking)');
  if (modes.size > 1)
    fail('/networks', 'modes cannot be mixed: one host, one container/bridge, or one or more container');
  if (modes.size === 1 && (modes.has('host') || modes.has('container/bridge')) && networks.length > 1) {
    fail('/networks', `only one ${[...modes][0]} network is allowed`);
  }
  networks.forEach((n, i) => {
    if (n.mode === 'container' && n.name === undefined)
      fail(`/networks/${i}/name`, 'is required for container networks');
    if (n.mode === 'container' && n.name !== undefined && !knownNetworks.includes(n.name)) {
      fail(
        `/networks/${i}/name`,
        `unknown network "${n.name}" (known: ${knownNetworks.join(', ') || 'none'})`,
      );
    }
  });
  const mode: NetworkMode = networks[networks.length - 1]?.mode ?? 'host';
  let ports: AppPort[] = [];
  if (mode === 'host') {
    if (a.container?.portMappings !== undefined)
      fail('/container/portMappings', 'is only allowed with container or container/bridge networks');
    const defs = a.portDefinitions ?? [{ port: 0, name: 'default', protocol: 'tcp' as const }];
    ports = defs.map((d) => ({
      containerPort: d.port,
      hostPort: a.requirePorts ? d.port : 0,
      servicePort: d.port,
      ...(d.name !== undefined && { name: d.name }),
      protocol: d.protocol,
      labels: d.labels ?? {},
    }));
    if (a.requirePorts)
      defs.forEach(
        (d, i) => d.port === 0 && fail(`/portDefinitions/${i}/port`, 'must be set when requirePorts is true'),
      );
  } else {
    if (a.portDefinitions !== undefined && a.portDefinitions.length > 0) {
      fail('/portDefinitions', 'is only allowed with host networking; use container.portMappings');
    }
    // Absent: bridge gets one dynamic port like Marathon; a container network gets none (the task
    // is reached on its own IP, there is no port to default to).
    const maps =
      a.container?.portMappings ??
      (mode === 'container/bridge'
        ? [{ containerPort: 0, hostPort: 0, servicePort: 0, name: 'default', protocol: 'tcp' as const }]
        : []);
    ports = maps.map((m, i) => {
      const hostPort = mode === 'container/bridge' ? (m.hostPort ?? 0) : m.hostPort;
      if (m.containerPort === 0 && hostPort === undefined)
        fail(`/container/portMappings/${i}/containerPort`, 'must be set when there is no hostPort');
      return {
        containerPort: m.containerPort,
        hostPort,
        servicePort: m.servicePort,
        ...(m.name !== undefined && { name: m.name }),
        protocol: m.protocol,
        labels: m.labels ?? {},
      };
    });
  }
  const names = ports.map((p) => p.name).filter((n) => n !== undefined);
  if (new Set(names).size !== names.length) fail('/ports', 'port names must be unique');
  if (a.container?.type === 'DOCKER' && !a.container.docker?.image)
    fail('/container/docker/image', 'is required for DOCKER containers');
  a.healthChecks.forEach((h, i) => {
    const index = h.portIndex ?? 0;
    if (h.port === undefined && index >= ports.length)
      fail(`/healthChecks/${i}/portIndex`, `is ${index} but the app has ${ports.length} ports`);
  });
  if (details.length > 0) throw new AppValidationError(details);
  const id = a.id.startsWith('/') ? a.id : `/${a.id}`;
  return {
    id,
    ...(a.cmd !== undefined && { cmd: a.cmd }),
    instances: a.instances,
    cpus: a.cpus,
    mem: a.mem,
    mode,
    networks,
    ports,
    requirePorts: a.requirePorts,
    ...(a.container && {
      container: {
        type: a.container.type,
        ...(a.container.docker && { docker: { image: a.container.docker.image } }),
      },
    }),
    labels: a.labels,
    env: a.env,
    healthChecks: a.healthChecks,
    ...(a.acceptedResourceRoles && { acceptedResourceRoles: a.acceptedResourceRoles }),
    ...(a.constraints && { constraints: a.constraints }),
    version,
    raw: { ...(input as Record<string, unknown>), id },
  };
}
