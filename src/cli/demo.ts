// `dcnet demo`: until the namespaced cluster exists (Mesos/Marathon emulator issue), the demo runs
// the overlay master on the DC/OS default config and registers the nodes of the DC/OS docs'
// example over its HTTP API, then prints what each node got and keeps serving until Ctrl-C.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { startMasterServer, type AgentInfo } from '../overlay/index.js';
import { createLogger } from './logger.js';
import { parseListen } from './listen.js';

const NODES = [
  { ip: '172.17.0.2', role: 'master', mesos_bridge: false, docker_bridge: false },
  { ip: '172.17.0.4', role: 'agent', mesos_bridge: true, docker_bridge: true },
  { ip: '172.17.0.3', role: 'agent', mesos_bridge: true, docker_bridge: true },
];

async function post(url: string, body: unknown): Promise<Response> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  return res;
}

function report(role: string, info: AgentInfo): string {
  const lines = [`${info.ip} (${role})`];
  const vx = info.overlays?.[0]?.backend.vxlan;
  if (vx) lines.push(`  vtep1024  ${vx.vtep_ip}${vx.vtep_ip6 ? `  ${vx.vtep_ip6}` : ''}  mac ${vx.vtep_mac}`);
  for (const o of info.overlays ?? []) {
    const br = [o.mesos_bridge, o.docker_bridge]
      .filter((b) => b !== undefined)
      .map((b) => `${b.name} ${[b.ip, b.ip6].filter(Boolean).join(' ')}`);
    lines.push(
      `  ${o.info.name.padEnd(8)} ${(o.subnet ?? o.subnet6 ?? '-').padEnd(20)} ${br.join('   ') || '(no bridges: master node)'}`,
    );
  }
  return lines.join('\n');
}

export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'start an overlay master on the DC/OS defaults, register three nodes, show their allocations',
    )
    .option('--listen <host:port>', 'HTTP API address of the demo master', '127.0.0.1:5050')
    .option('--log-level <level>', 'log level of the master', 'warn')
    .option('--once', 'exit after printing the report instead of serving until Ctrl-C')
    .action(async (opts: { listen: string; logLevel: string; once?: boolean }) => {
      const { host, port } = parseListen(opts.listen);
      const dataDir = await mkdtemp(join(tmpdir(), 'dcnet-demo-'));
      const server = await startMasterServer({
        config: await loadConfig(),
        dataDir,
        host,
        port,
        logger: createLogger(opts.logLevel, 'dcnet-master'),
      });
      const stop = async (): Promise<void> => {
        await server.close();
        await rm(dataDir, { recursive: true, force: true });
      };
      try {
        const out: string[] = [`dcnet demo: overlay master at ${server.url} (state in ${dataDir})`, ''];
        for (const node of NODES) {
          const { role, ...body } = node;
          const info = (await (await post(`${server.url}/overlay-master/agents`, body)).json()) as AgentInfo;
          await post(`${server.url}/overlay-master/agents/ack`, {
            ip: node.ip,
            overlays: (info.overlays ?? []).map((o) => ({ name: o.info.name, status: 'STATUS_OK' })),
          });
          out.push(report(role, info), '');
        }
        const usage = (await (await fetch(`${server.url}/overlay-master/pools`)).json()) as {
          vtep: { ipv4: { used: number; free: number } };
        };
        out.push(
          `VTEP IPv4 pool: ${usage.vtep.ipv4.used} used, ${usage.vtep.ipv4.free} free`,
          `Try: curl ${server.url}/overlay-master/state   curl ${server.url}/overlay-master/pools   curl ${server.url}/metrics`,
        );
        process.stdout.write(`${out.join('\n')}\n`);
      } catch (err) {
        await stop();
        throw err;
      }
      if (opts.once) {
        await stop();
        return;
      }
      process.stdout.write('Serving until Ctrl-C.\n');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await stop();
    });
}
