// The node-local resolver of every dcnet node (dcos-dns): the local and gossiped zones in a
// ZoneResponder, `.mesos` forwarded to the masters' Mesos-DNS, everything else to the upstreams,
// on 198.51.100.1:53 (and whatever else is configured). It answers from its last zones while the
// masters and the store are away.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ipBatch, readAddrs } from '../../kernel/index.js';
import { must, parseIfName, parseIpv4Cidr } from '../../net/index.js';
import type { Store } from '../../store/index.js';
import {
  createDcosDnsRouter,
  startDnsServer,
  ZoneResponder,
  type ClientRateLimitOptions,
  type ListenAddress,
  type RunningDnsServer,
  type Upstream,
} from '../server/index.js';
import { NodeZones } from './node-zones.js';
import { SPARTAN_IP } from './zones.js';
import { NODE_DNS_IPS } from './resolv-conf.js';

export interface NodeDnsOptions {
  readonly log: Logger;
  readonly store?: Store;
  readonly privateIp: string;
  readonly publicIps?: readonly string[];
  readonly listen: readonly ListenAddress[];
  /** The masters' Mesos-DNS (`ip:61053`); none → `.mesos` answers SERVFAIL. */
  readonly mesosResolvers?: readonly Upstream[];
  /** Upstream resolvers; default: /etc/resolv.conf minus this host's addresses. */
  readonly upstreams?: readonly Upstream[];
  readonly forwardZones?: Readonly<Record<string, readonly Upstream[]>>;
  readonly registry?: Registry;
  /** Masters' IPs for the `zk` zone. */
  readonly masterIps?: readonly string[];
  /** Per-client query rate; `false` = none. Default NODE_DNS_CLIENT_QPS per address. */
  readonly clientRateLimit?: ClientRateLimitOptions | false;
  /** Forwarded queries in flight at most (default 1024; `.mesos` has as many of its own). */
  readonly maxForwarding?: number;
}

/**
 * Default queries per second per client address: far above what one task or a health check
 * needs, a small share of what one process answers (≈ 50k qps), so that one client cannot take
 * the node's resolver. Host-network tasks share the host's address and so one bucket.
 */
export const NODE_DNS_CLIENT_QPS = 5000;

/** TCP connections one client address may hold open (of the server's 1024). */
export const NODE_DNS_TCP_PER_CLIENT = 64;

export interface NodeDns {
  readonly zones: NodeZones;
  readonly server: RunningDnsServer;
  close(): Promise<void>;
}

/** Puts the node-local DNS addresses (198.51.100.1–3) on `lo` when something must listen on
 *  them (idempotent); default: the first. */
export async function ensureSpartanAddress(
  log: Logger,
  ips: readonly string[] = [SPARTAN_IP],
): Promise<void> {
  const lo = must(parseIfName('lo'));
  const have = new Set((await readAddrs(lo)).map((a) => a.split('/')[0]));
  const missing = ips.filter((ip) => !have.has(ip));
  if (missing.length === 0) return;
  const { failures } = await ipBatch(
    missing.map((ip) => ({ op: 'addr-add' as const, dev: lo, addr: must(parseIpv4Cidr(`${ip}/32`)) })),
  );
  if (failures.length > 0) throw new Error(`${failures[0]!.line}: ${failures[0]!.error}`);
  log.info({ addresses: missing }, 'node-local DNS addresses added to lo');
}

/** Upstreams minus the node DNS's own listen addresses: forwarding to itself would loop. */
function notSelf(upstreams: readonly Upstream[], listen: readonly ListenAddress[], log: Logger): Upstream[] {
  const own = (u: Upstream): boolean =>
    listen.some((l) => l.host === u.host && l.port === u.port) ||
    (u.port === 53 && (NODE_DNS_IPS as readonly string[]).includes(u.host));
  for (const u of upstreams.filter(own))
    log.warn({ upstream: `${u.host}:${u.port}` }, 'upstream skipped: it is this node-local DNS itself');
  return upstreams.filter((u) => !own(u));
}

export async function startNodeDns(o: NodeDnsOptions): Promise<NodeDns> {
  const responder = new ZoneResponder();
  const zones = new NodeZones({
    log: o.log,
    ...(o.store && { store: o.store }),
    privateIp: o.privateIp,
    ...(o.publicIps && { publicIps: o.publicIps }),
    sink: {
      setZone: (origin, records) => {
        try {
          responder.setZone(origin, records);
        } catch (err) {
          o.log.error({ zone: origin, err: (err as Error).message }, 'zone refused by the resolver');
        }
      },
      deleteZone: (origin) => responder.deleteZone(origin),
    },
  });
  const nodeIps = NODE_DNS_IPS.filter((ip) => o.listen.some((l) => l.host === ip));
  if (nodeIps.length > 0) await ensureSpartanAddress(o.log, nodeIps);
  const upstreams = o.upstreams && notSelf(o.upstreams, o.listen, o.log);
  await zones.start();
  if (o.masterIps) zones.setMasters(o.masterIps);
  const router = createDcosDnsRouter({
    zones: responder,
    ...(o.maxForwarding && { maxMesosInFlight: o.maxForwarding }),
    ...(o.mesosResolvers && { mesosResolvers: o.mesosResolvers }),
    ...(upstreams && { upstreams }),
    ...(o.forwardZones && { forwardZones: o.forwardZones }),
  });
  let server: RunningDnsServer;
  try {
    server = await startDnsServer({
      listen: o.listen,
      zones: { '.': router },
      ...(o.registry && { registry: o.registry }),
      ...(o.maxForwarding && { maxConcurrent: o.maxForwarding }),
      maxTcpPerClient: NODE_DNS_TCP_PER_CLIENT,
      ...(o.clientRateLimit !== false && {
        clientRateLimit: o.clientRateLimit ?? { qps: NODE_DNS_CLIENT_QPS },
      }),
      logger: o.log,
    });
  } catch (err) {
    zones.stop();
    throw err;
  }
  o.log.info(
    {
      listen: server.addresses.map((a) => `${a.host}:${a.port}`),
      upstreams,
      mesos: o.mesosResolvers,
      clientQps: o.clientRateLimit === false ? 'unlimited' : (o.clientRateLimit?.qps ?? NODE_DNS_CLIENT_QPS),
    },
    'node-local DNS listening',
  );
  return {
    zones,
    server,
    async close() {
      zones.stop();
      await server.close();
    },
  };
}
