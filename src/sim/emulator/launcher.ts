// Launches an emulated task as a real process in a real network namespace, the way its app asks:
// host networking (the agent's namespace, host ports), container/bridge (a namespace on the
// agent's CNI bridge with portmap), or container networks, which go through the Mesos agent's
// network/cni isolator as Mesos runs it (mesos-cni.ts: only the files in the agent's CNI config
// directory, only the plugins in its plugins directory, results read as ip4/ip6). Every task
// namespace is named after its agent's, so the test bed's sweep finds it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cniAdd, cniDel, type CniConflist } from '../../kernel/index.js';
import { run } from '../../kernel/raw.js';
import type { App } from './apps.js';
import type { TopoAgent } from './topology.js';
import { TASK_SERVER } from './task-server.js';
import { MesosCniIsolator, type IsolatorLog, type MesosNetworkInfo } from './mesos-cni.js';
import type { Logger } from 'pino';
import { DOCKER_CLI } from '../docker.js';

export interface LaunchedTask {
  readonly netns: string;
  readonly ips: string[];
  /** Network names for Mesos' network_infos (container mode), else empty. */
  readonly networkNames: string[];
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Stops the process and removes its namespace and CNI attachments. */
  destroy(): Promise<void>;
}

/** The agent's `mesos-bridge` network (container/bridge mode), like the Mesos CNI bridge. */
export function mesosBridgeConflist(agentIndex: number, dataDir: string): CniConflist {
  return {
    cniVersion: '1.0.0',
    name: 'mesos-bridge',
    plugins: [
      {
        type: 'bridge',
        bridge: 'mesos-cni0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir,
          ranges: [[{ subnet: `172.31.${agentIndex}.0/24` }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
}

export interface LaunchSpec {
  readonly taskId: string;
  readonly app: App;
  readonly agent: TopoAgent;
  readonly agentIndex: number;
  /** Per app port: the host port given to this task, or undefined. */
  readonly hostPorts: (number | undefined)[];
  readonly workdir: string;
  /** Where the isolator's log lines go (Mesos' agent log). */
  readonly log?: Logger;
}

/** The agent's network/cni isolator, as its Mesos agent would be started in the test bed. */
export function agentIsolator(agent: TopoAgent, log?: Logger): MesosCniIsolator {
  return agentIsolatorFor(agent, {
    error: (msg: string) => log?.error({ agent: agent.name }, msg),
    info: (msg: string) => log?.info({ agent: agent.name }, msg),
  });
}

export function agentIsolatorFor(agent: TopoAgent, sink: IsolatorLog): MesosCniIsolator {
  return new MesosCniIsolator(agent.cniDir, agent.cniPluginsDir, sink, agent.netns);
}

/** Short, unique, interface-safe suffix for a task namespace. */
const suffix = (taskId: string): string =>
  taskId
    .slice(taskId.lastIndexOf('.') + 1)
    .replace(/-/g, '')
    .slice(0, 8);

/** The Docker containerizer: the agent's dockerd runs the task on the overlay's Docker network
 *  (or host networking); the image's busybox httpd answers with the task id. */
async function launchDockerTask(spec: LaunchSpec): Promise<LaunchedTask> {
  const { app, agent } = spec;
  const socket = join(spec.workdir, agent.name, 'docker.sock');
  const docker = (args: string[]) =>
    run(DOCKER_CLI, ['-H', `unix://${socket}`, ...args], { timeoutMs: 60_000 });
  if (app.mode === 'container/bridge')
    throw new Error('DOCKER containers on container/bridge are not emulated (no docker0 on the test bed)');
  if (app.networks.length > 1) throw new Error('DOCKER containers join one network in the emulator');
  const network = app.mode === 'host' ? 'host' : app.networks[0]!.name!;
  const port = app.ports[0] ? app.ports[0].containerPort || spec.hostPorts[0] || 80 : 80;
  const name = `dcnet-${spec.taskId.replace(/[^a-zA-Z0-9_.-]/g, '_')}`;
  const script = `mkdir -p /tmp/www && echo '${spec.taskId}' > /tmp/www/index.html && exec httpd -f -p ${port} -h /tmp/www`;
  await docker([
    'run',
    '-d',
    '--name',
    name,
    '--network',
    network,
    '--label',
    `dcnet.task=${spec.taskId}`,
    app.container!.docker!.image,
    'sh',
    '-c',
    script,
  ]);
  const destroy = async (): Promise<void> => {
    await docker(['rm', '-f', name]).catch(() => {});
  };
  try {
    const ipText = (
      await docker([
        'inspect',
        '-f',
        '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{.GlobalIPv6Address}} {{end}}',
        name,
      ])
    ).stdout;
    const ips = app.mode === 'host' ? [agent.ip] : ipText.split(/\s+/).filter(Boolean);
    const proc = spawn(DOCKER_CLI, ['-H', `unix://${socket}`, 'wait', name], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    return {
      netns: agent.netns,
      ips,
      networkNames: app.mode === 'container' ? [network] : [],
      proc,
      exited,
      async destroy() {
        proc.kill();
        await destroy();
      },
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}

export async function launchTask(spec: LaunchSpec): Promise<LaunchedTask> {
  if (spec.app.container?.type === 'DOCKER') return launchDockerTask(spec);
  const { app, agent } = spec;
  const own = app.mode !== 'host';
  const netns = own ? `${agent.netns}-${suffix(spec.taskId)}` : agent.netns;
  const attachments: { list: CniConflist; ifname: string }[] = [];
  const mesosAttachments: { network: MesosNetworkInfo; ifname: string }[] = [];
  const isolator = agentIsolator(agent, spec.log);
  const netnsPath = `/run/netns/${netns}`;
  const ips: string[] = [];
  const portMappings = app.ports.flatMap((p, i) => {
    const hostPort = spec.hostPorts[i];
    if (hostPort === undefined) return [];
    return p.protocol
      .split(',')
      .map((proto) => ({ hostPort, containerPort: p.containerPort || hostPort, protocol: proto }));
  });
  const cleanup = async (): Promise<void> => {
    for (const a of attachments.reverse()) {
      await cniDel(a.list, {
        containerId: spec.taskId,
        netnsPath,
        ifname: a.ifname,
        hostNetns: agent.netns,
      }).catch(() => {});
    }
    for (const a of mesosAttachments.reverse())
      await isolator.detach(spec.taskId, a.network, a.ifname, netnsPath).catch(() => {});
    if (own) {
      await run('ip', ['netns', 'del', netns]).catch(() => {});
      await rm(`/etc/netns/${netns}`, { recursive: true, force: true });
    }
  };
  try {
    if (own) {
      await run('ip', ['netns', 'add', netns]);
      await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      if (app.mode === 'container/bridge') {
        const list = mesosBridgeConflist(
          spec.agentIndex,
          join(spec.workdir, agent.name, 'mesos-bridge-ipam'),
        );
        const result = await cniAdd(list, {
          containerId: spec.taskId,
          netnsPath,
          ifname: 'eth0',
          hostNetns: agent.netns,
          ...(portMappings.length > 0 && { runtimeConfig: { portMappings } }),
        });
        attachments.push({ list, ifname: 'eth0' });
        for (const a of result.ips ?? []) ips.push(a.address.split('/')[0]!);
      } else {
        // Marathon gives the port mappings to the network they name; here: the first one.
        for (const [i, n] of app.networks.entries()) {
          const network: MesosNetworkInfo = {
            name: n.name!,
            ...(i === 0 &&
              portMappings.length > 0 && {
                port_mappings: portMappings.map((m) => ({
                  host_port: m.hostPort,
                  container_port: m.containerPort,
                  protocol: m.protocol,
                })),
              }),
          };
          const ifname = `eth${i}`;
          const attached = await isolator.attach(spec.taskId, network, ifname, netnsPath);
          mesosAttachments.push({ network, ifname });
          for (const c of [attached.info.ip4, attached.info.ip6]) if (c) ips.push(c.ip.split('/')[0]!);
        }
      }
    } else {
      ips.push(agent.ip);
    }
    // Tasks resolve through the node's DNS, as on DC/OS nodes (ip netns exec reads /etc/netns/<ns>).
    if (own) {
      await mkdir(`/etc/netns/${netns}`, { recursive: true });
      const hostResolv = join(spec.workdir, agent.name, 'resolv.conf');
      await writeFile(
        `/etc/netns/${netns}/resolv.conf`,
        await readFile(hostResolv, 'utf8').catch(() => 'nameserver 198.51.100.1\n'),
      );
    }
    const listen = (proto: 'tcp' | 'udp'): number[] =>
      app.ports
        .flatMap((p, i) => (p.protocol.includes(proto) ? [p.containerPort || spec.hostPorts[i] || 0] : []))
        .filter((p) => p > 0);
    const cfg = JSON.stringify({
      id: spec.taskId,
      tcp: [...new Set(listen('tcp'))],
      udp: [...new Set(listen('udp'))],
    });
    const proc = spawn(
      'nsenter',
      [`--net=/run/netns/${netns}`, '--', process.execPath, '-e', TASK_SERVER, cfg],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 10_000;
    while (!out.includes('ready')) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`task server did not start: ${out.slice(-500)}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return {
      netns,
      ips,
      networkNames: app.mode === 'container' ? app.networks.map((n) => n.name!) : [],
      proc,
      exited,
      async destroy() {
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill('SIGTERM');
          const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(t);
        }
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
