// Emulator state in the real formats: Marathon's apps and tasks (specs/marathon-lb.md §3.5) and
// the parts of Mesos' /master/state that Mesos-DNS and dcos-net read (specs/mesos-dns.md §1.1).
import type { App } from './apps.js';
import type { Emulator, Task } from './emulator.js';

const protocolOf = (ip: string): 'IPv4' | 'IPv6' => (ip.includes(':') ? 'IPv6' : 'IPv4');

export function marathonTask(emu: Emulator, t: Task, app: App | undefined): Record<string, unknown> {
  return {
    id: t.id,
    appId: t.appId,
    host: t.agent.ip,
    slaveId: emu.agentIds.get(t.agent.name),
    state: t.state,
    ports: t.hostPorts.filter((p) => p !== undefined),
    servicePorts: app?.ports.map((p) => p.servicePort) ?? [],
    ipAddresses: t.ips.map((ip) => ({ ipAddress: ip, protocol: protocolOf(ip) })),
    stagedAt: t.stagedAt,
    ...(t.startedAt && { startedAt: t.startedAt }),
    version: t.version,
    ...(t.health && { healthCheckResults: t.health.filter(Boolean) }),
  };
}

export function marathonApp(emu: Emulator, app: App, embedTasks: boolean): Record<string, unknown> {
  const tasks = emu.tasksOf(app.id);
  const running = tasks.filter((t) => t.state === 'TASK_RUNNING');
  const healthy = running.filter((t) => t.health && t.health.length > 0 && t.health.every((h) => h?.alive));
  const unhealthy = running.filter((t) => t.health?.some((h) => h && !h.alive));
  const portsView =
    app.mode === 'host'
      ? {
          portDefinitions: app.ports.map((p) => ({
            port: p.servicePort,
            protocol: p.protocol,
            ...(p.name && { name: p.name }),
            labels: p.labels,
          })),
        }
      : {
          portDefinitions: [],
          container: {
            type: app.container?.type ?? 'MESOS',
            ...(app.container?.docker && { docker: app.container.docker }),
            portMappings: app.ports.map((p) => ({
              containerPort: p.containerPort,
              ...(p.hostPort !== undefined && { hostPort: p.hostPort }),
              servicePort: p.servicePort,
              protocol: p.protocol,
              ...(p.name && { name: p.name }),
              labels: p.labels,
            })),
          },
        };
  return {
    ...app.raw,
    id: app.id,
    instances: app.instances,
    cpus: app.cpus,
    mem: app.mem,
    networks: app.networks,
    ...portsView,
    requirePorts: app.requirePorts,
    labels: app.labels,
    env: app.env,
    healthChecks: app.healthChecks,
    version: app.version,
    versionInfo: { lastScalingAt: app.version, lastConfigChangeAt: app.version },
    tasksStaged: tasks.filter((t) => t.state === 'TASK_STAGING' || t.state === 'TASK_STARTING').length,
    tasksRunning: running.length,
    tasksHealthy: healthy.length,
    tasksUnhealthy: unhealthy.length,
    deployments: [],
    ...(embedTasks && { tasks: tasks.map((t) => marathonTask(emu, t, app)) }),
  };
}

/** `[31000-31000, 31005-31005]`: Mesos' range string of the task's host ports. */
function portRanges(ports: readonly (number | undefined)[]): string {
  const list = ports.filter((p): p is number => p !== undefined);
  return list.length ? `[${list.map((p) => `${p}-${p}`).join(', ')}]` : '';
}

/** Marathon's DiscoveryInfo name: the app id's path reversed and joined with dots. */
export const discoveryName = (appId: string): string => appId.split('/').filter(Boolean).reverse().join('.');

export function mesosTask(emu: Emulator, t: Task): Record<string, unknown> {
  const app = emu.apps.get(t.appId);
  const containerScope = app?.mode === 'container';
  const networkInfos =
    app?.mode === 'host' || !app
      ? [{ ip_addresses: [{ ip_address: t.agent.ip }] }]
      : [
          {
            ip_addresses: t.ips.map((ip) => ({ ip_address: ip, protocol: protocolOf(ip) })),
            ...(t.networkNames[0] !== undefined && { name: t.networkNames[0] }),
          },
        ];
  return {
    id: t.id,
    name: discoveryName(t.appId),
    framework_id: emu.frameworkId,
    executor_id: '',
    slave_id: emu.agentIds.get(t.agent.name),
    state: t.state,
    resources: { cpus: app?.cpus ?? 0.1, mem: app?.mem ?? 32, disk: 0, ports: portRanges(t.hostPorts) },
    statuses: t.statuses.map((s) => ({
      state: s.state,
      timestamp: s.timestamp,
      ...(s.healthy !== undefined && { healthy: s.healthy }),
      container_status: { network_infos: networkInfos },
    })),
    ...(app && {
      labels: Object.entries(app.labels).map(([key, value]) => ({ key, value })),
      discovery: {
        visibility: 'FRAMEWORK',
        name: discoveryName(app.id),
        ports: {
          ports: app.ports.flatMap((p, i) =>
            p.protocol.split(',').map((protocol) => ({
              number: containerScope ? p.containerPort : (t.hostPorts[i] ?? p.containerPort),
              protocol,
              ...(p.name && { name: p.name }),
              labels: {
                labels: [
                  ...Object.entries(p.labels).map(([key, value]) => ({ key, value })),
                  { key: 'network-scope', value: containerScope ? 'container' : 'host' },
                ],
              },
            })),
          ),
        },
      },
      container: {
        type: app.container?.type ?? 'MESOS',
        network_infos:
          app.mode === 'host'
            ? []
            : t.networkNames.length
              ? t.networkNames.map((name) => ({ name }))
              : [
                  {
                    name: 'mesos-bridge',
                    // What Mesos records for a bridged task: each host port and where it leads.
                    port_mappings: app.ports.flatMap((p, i) =>
                      t.hostPorts[i] === undefined
                        ? []
                        : p.protocol.split(',').map((protocol) => ({
                            host_port: t.hostPorts[i],
                            container_port: p.containerPort || t.hostPorts[i],
                            protocol,
                          })),
                    ),
                  },
                ],
      },
      ...(app.healthChecks.length > 0 && { health_check: { type: app.healthChecks[0]!.protocol } }),
    }),
  };
}

export function mesosState(emu: Emulator, masterPort: number, marathonPort: number): Record<string, unknown> {
  const { topology } = emu;
  const live = [...emu.tasks.values()];
  return {
    version: '1.11.0',
    leader: `master@${topology.master.ip}:${masterPort}`,
    leader_info: { hostname: topology.master.ip, ip: topology.master.ip, port: masterPort },
    hostname: topology.master.ip,
    pid: `master@${topology.master.ip}:${masterPort}`,
    activated_slaves: topology.agents.length,
    slaves: topology.agents.map((a) => ({
      id: emu.agentIds.get(a.name),
      pid: `slave(1)@${a.ip}:5051`,
      hostname: a.ip,
      active: true,
      attributes: a.public ? { public_ip: 'true' } : {},
      resources: { cpus: 4, mem: 8192, disk: 10000, ports: '[31000-31999]' },
      reserved_resources: a.public ? { slave_public: { ports: '[31000-31999]' } } : {},
    })),
    frameworks: [
      {
        id: emu.frameworkId,
        name: 'marathon',
        pid: `scheduler-${emu.frameworkId.slice(0, 8)}@${topology.master.ip}:${marathonPort}`,
        hostname: topology.master.ip,
        webui_url: `http://${topology.master.ip}:${marathonPort}`,
        active: true,
        role: '*',
        tasks: live.map((t) => mesosTask(emu, t)),
        completed_tasks: [],
      },
    ],
    completed_frameworks: [],
    orphan_tasks: [],
  };
}
