// `dcnet agent`: the per-node daemon (overlay today; DNS and L4LB join it later).
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { defaultMesosCniDir, startAgentServer } from '../overlay/index.js';
import { createLogger } from './logger.js';
import { parseListen } from './listen.js';
import { UsageError } from './usage-error.js';
import { parseAddress } from '../net/index.js';
import { ClientRateLimit, parseUpstream, type Upstream } from '../dns/server/index.js';
import { NODE_DNS_CLIENT_QPS } from '../dns/dcos/index.js';
import { nodeRoles, type DnsRoleOptions } from './agent-roles.js';
import { addTlsOptions, checkScheme, controlPlaneTls, type TlsCliOptions } from './tls.js';

function whole(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${name}: "${v}" must be an integer ≥ ${min}`);
    return n;
  };
}

function seconds(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min)
      throw new UsageError(`${name}: "${v}" must be a number of seconds ≥ ${min}`);
    return n;
  };
}

export function addAgentCommand(program: Command): void {
  const cmd = program
    .command('agent')
    .description(
      'run the node agent: registers with the overlay master, configures CNI/Docker/VXLAN, programs peers',
    )
    .requiredOption(
      '--master <url[,url…]>',
      'overlay master base URL(s), e.g. https://10.0.0.1:5050 (several with HA masters)',
    )
    .requiredOption('--ip <address>', "this node's IPv4 address (its identity and VXLAN endpoint)")
    .option('--listen <host:port>', 'HTTP endpoint address', '127.0.0.1:5051')
    .option(
      '--cni-dir <dir>',
      "the Mesos agent's --network_cni_config_dir: one <overlay>.conf each (default: DC/OS' on DC/OS installs)",
      defaultMesosCniDir(),
    )
    .option(
      '--cni-conflist-dir <dir>',
      'also write <overlay>.conflist here, for CNI runtimes that take conflists',
    )
    .option('--cni-data-dir <dir>', "host-local IPAM lease directory (default: the plugin's)")
    .option('--config <file>', 'YAML config (dcos_overlay_mtu, enable_ipv6)')
    .option('--no-mesos-bridge', 'do not ask for or configure the Mesos (CNI) half (master nodes)')
    .option('--no-docker-bridge', 'do not ask for or configure the Docker half')
    .option(
      '--dcos-port-mapper',
      "write DC/OS' own <overlay>.conf byte for byte (IPv4 only) instead of the dual-stack form",
    )
    .option('--docker-socket <path>', 'Docker Engine API socket', '/var/run/docker.sock')
    .option(
      '--grace-period <s>',
      'how long peers keep routes to this node after its agent stops',
      seconds('--grace-period', 1),
      30,
    )
    .option(
      '--resync-interval <s>',
      'how often the kernel state is read back and repaired',
      seconds('--resync-interval', 0.1),
      30,
    )
    .option(
      '--reregister-interval <s>',
      'how often the agent re-registers (picks up new overlays)',
      seconds('--reregister-interval', 1),
      300,
    )
    .option('--backoff-min <s>', 'first registration retry bound', seconds('--backoff-min', 0.01), 5)
    .option('--backoff-max <s>', 'registration retry cap', seconds('--backoff-max', 0.01), 600)
    .option(
      '--dns-listen <host:port[,…]>',
      'node-local DNS listeners (198.51.100.1–3 are added to lo when listed)',
      '198.51.100.1:53,198.51.100.2:53,198.51.100.3:53',
    )
    .option('--no-dns', 'do not run the node-local DNS (nor manage resolv.conf)')
    .option(
      '--resolv-conf <path>',
      'resolv.conf to point at the node-local DNS, and at the upstreams while it fails (default /etc/resolv.conf)',
    )
    .option('--no-resolv-conf', 'leave resolv.conf alone')
    .option(
      '--resolv-conf-interval <s>',
      'how often the watchdog asks the node-local DNS for ready.spartan',
      seconds('--resolv-conf-interval', 0.1),
      5,
    )
    .option(
      '--dns-upstream <ip[:port][,…]>',
      "resolvers for names outside the cluster (default: /etc/resolv.conf minus this node's addresses)",
    )
    .option(
      '--dns-forward-zone <zone=ip[:port][,…]>',
      'resolvers for one zone (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option(
      '--mesos-dns <ip[:port][,…]>',
      "the masters' Mesos-DNS for .mesos names (default: each --master host on port 61053)",
    )
    .option(
      '--dns-client-qps <n>',
      'queries per second one client address may send the node-local DNS (0 = no limit)',
      whole('--dns-client-qps', 0),
      NODE_DNS_CLIENT_QPS,
    )
    .option(
      '--dns-client-exempt <cidr[,…]>',
      'client addresses/CIDRs the rate limit never applies to (default none, loopback included)',
    )
    .option(
      '--dns-max-forwarding <n>',
      'forwarded DNS queries in flight at most (again as many for .mesos); local names never wait',
      whole('--dns-max-forwarding', 1),
      1024,
    )
    .option('--public-ip <ip[,…]>', "this node's public addresses (public.thisnode.thisdcos.directory)")
    .option('--no-l4lb', 'do not program the VIP load balancer (nftables table dcnet_l4lb)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info');
  addTlsOptions(cmd).action(
    async (
      opts: TlsCliOptions & {
        master: string;
        ip: string;
        listen: string;
        cniDir: string;
        cniDataDir?: string;
        cniConflistDir?: string;
        config?: string;
        mesosBridge: boolean;
        dockerBridge: boolean;
        dcosPortMapper?: boolean;
        dockerSocket: string;
        gracePeriod: number;
        resyncInterval: number;
        reregisterInterval: number;
        backoffMin: number;
        backoffMax: number;
        dnsListen: string;
        dns: boolean;
        resolvConf?: string | boolean;
        resolvConfInterval: number;
        dnsUpstream?: string;
        dnsForwardZone: string[];
        mesosDns?: string;
        dnsClientQps: number;
        dnsClientExempt?: string;
        dnsMaxForwarding: number;
        publicIp?: string;
        l4lb: boolean;
        logLevel: string;
      },
    ) => {
      if (parseAddress(opts.ip)?.family !== 4)
        throw new UsageError(`--ip: "${opts.ip}" is not an IPv4 address`);
      const masters = opts.master.split(',').map((m) => {
        try {
          return new URL(m.trim()).origin;
        } catch {
          throw new UsageError(`--master: "${m}" is not a URL`);
        }
      });
      const { host, port } = parseListen(opts.listen);
      const dns = opts.dns ? dnsOptions(opts, masters) : undefined;
      const config = await loadConfig(opts.config);
      const logger = createLogger(opts.logLevel, 'dcnet-agent');
      const tls = await controlPlaneTls('dcnet agent', opts, ['agent'], logger);
      checkScheme('--master', masters, tls);
      if (tls.secure && !tls.identity.ips.includes(opts.ip))
        throw new UsageError(
          `--ip: ${opts.ip} is not in the certificate (${tls.identity.ips.join(', ')}): the master would refuse it; issue one with \`dcnet pki issue --role agent --ip ${opts.ip}\``,
        );
      const server = await startAgentServer({
        masterUrls: masters,
        ip: opts.ip,
        host,
        port,
        logger,
        ...(tls.secure && { tls: tls.files }),
        cniDir: opts.cniDir,
        ...(opts.cniDataDir !== undefined && { cniDataDir: opts.cniDataDir }),
        ...(opts.cniConflistDir !== undefined && { cniConflistDir: opts.cniConflistDir }),
        dcosPortMapper: opts.dcosPortMapper ?? false,
        mesosBridge: opts.mesosBridge,
        dockerBridge: opts.dockerBridge,
        overlayMtu: config.overlayMtu,
        enableIpv6: config.enableIpv6,
        dockerSocket: opts.dockerSocket,
        gracePeriodS: Math.ceil(opts.gracePeriod),
        resyncMs: opts.resyncInterval * 1000,
        reregisterMs: opts.reregisterInterval * 1000,
        backoffMinMs: opts.backoffMin * 1000,
        backoffMaxMs: opts.backoffMax * 1000,
        // The L4LB first: the node's DNS names only the VIPs its kernel already serves.
        roles: nodeRoles({
          ...(opts.l4lb && { l4lb: { ip: opts.ip, resyncMs: opts.resyncInterval * 1000 } }),
          ...(dns && { dns }),
        }),
      });
      const stop = (signal: string): void => {
        logger.info({ signal }, 'stopping (routes stay programmed; peers keep ours for the grace period)');
        server.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    },
  );
}

function upstreamList(option: string, text: string, defaultPort = 53): Upstream[] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => {
      try {
        return parseUpstream(t, defaultPort);
      } catch (err) {
        throw new UsageError(`${option}: ${(err as Error).message}`);
      }
    });
}

function dnsOptions(
  opts: {
    ip: string;
    dnsListen: string;
    resolvConf?: string | boolean;
    resolvConfInterval: number;
    dnsUpstream?: string;
    dnsForwardZone: string[];
    mesosDns?: string;
    dnsClientQps: number;
    dnsClientExempt?: string;
    dnsMaxForwarding: number;
    publicIp?: string;
  },
  masters: readonly string[],
): DnsRoleOptions {
  const listen = opts.dnsListen.split(',').map((l) => parseListen(l.trim(), '--dns-listen'));
  const masterIps = masters
    .map((m) => new URL(m).hostname.replace(/^\[|\]$/g, ''))
    .filter((h) => parseAddress(h));
  const forwardZones: Record<string, Upstream[]> = {};
  for (const fz of opts.dnsForwardZone) {
    const [zone, servers] = fz.split('=');
    if (!zone || !servers) throw new UsageError(`--dns-forward-zone: "${fz}" is not zone=ip[:port][,…]`);
    forwardZones[zone] = upstreamList('--dns-forward-zone', servers);
  }
  const publicIps = (opts.publicIp ?? '').split(',').filter(Boolean);
  for (const ip of publicIps)
    if (!parseAddress(ip)) throw new UsageError(`--public-ip: "${ip}" is not an IP address`);
  const exempt = (opts.dnsClientExempt ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const clientRateLimit = opts.dnsClientQps > 0 && { qps: opts.dnsClientQps, exempt };
  try {
    if (clientRateLimit) new ClientRateLimit(clientRateLimit); // validates the CIDRs
  } catch (err) {
    throw new UsageError(`--dns-client-exempt: ${(err as Error).message}`);
  }
  return {
    ip: opts.ip,
    listen,
    masterIps,
    mesosResolvers:
      opts.mesosDns !== undefined
        ? upstreamList('--mesos-dns', opts.mesosDns, 61053)
        : masterIps.map((host) => ({ host, port: 61053 })),
    ...(opts.dnsUpstream !== undefined && { upstreams: upstreamList('--dns-upstream', opts.dnsUpstream) }),
    ...(Object.keys(forwardZones).length > 0 && { forwardZones }),
    ...(publicIps.length > 0 && { publicIps }),
    clientRateLimit,
    maxForwarding: opts.dnsMaxForwarding,
    ...(opts.resolvConf !== false && {
      resolvConf: {
        path: typeof opts.resolvConf === 'string' ? opts.resolvConf : '/etc/resolv.conf',
        intervalMs: opts.resolvConfInterval * 1000,
      },
    }),
  };
}
