// What a master runs beside the overlay allocator, fed by the Mesos state: the VIP table and the
// dcos-dns zones the leader publishes to every node, and Mesos-DNS (`.mesos` on :61053, HTTP API on :8123) whose
// records the leader also mirrors as mesos.thisdcos.directory.
import type { Logger } from 'pino';
import { MesosStatePoller, parseMasterEntry, type HttpAuth } from '../cluster/index.js';
import { MasterZones } from '../dns/dcos/index.js';
import {
  parseMesosDnsConfig,
  startMesosDns,
  type MesosDnsConfig,
  type RunningMesosDns,
} from '../dns/mesos/index.js';
import { DCNET_VERSION } from './version.js';
import { networkInterfaces } from 'node:os';
import type { L4lbConfig, NetworkConfig } from '../config/index.js';
import { clusterVipPolicy, L4lbPublisher } from '../l4lb/index.js';
import { parseAddress } from '../net/index.js';
import type { MasterServer } from '../overlay/index.js';

export interface MasterRolesOptions {
  readonly server: MasterServer;
  readonly log: Logger;
  /** Mesos masters, `host:port`. */
  readonly mesos: readonly string[];
  readonly refreshMs: number;
  /** Mesos-DNS settings; false = do not run it. */
  readonly mesosDns: MesosDnsConfig | false;
  /** Derive IPv6 VIP addresses too (config `enable_ipv6`). */
  readonly enableIpv6: boolean;
  /** VIP ranges (config `dcos_l4lb_*`) and the overlay subnets IP VIPs may not take. */
  readonly l4lb?: L4lbConfig;
  readonly network?: NetworkConfig;
  /** Credentials for Mesos (`--mesos-credentials`), used by both pollers unless the Mesos-DNS
   *  config names its own (`mesosDnsAuth`). */
  readonly mesosAuth?: HttpAuth;
  readonly mesosDnsAuth?: HttpAuth;
}

/** The built-in Mesos-DNS of a master, as DC/OS configures it (IPSources host, netinfo). */
export function masterMesosDnsConfig(opts: {
  readonly mesos: readonly string[];
  readonly host: string;
  readonly refreshS: number;
}): MesosDnsConfig {
  const doc = {
    masters: opts.mesos,
    refreshSeconds: Math.max(1, Math.round(opts.refreshS)),
    stateTimeoutSeconds: 30,
    listener: opts.host,
    port: 61053,
    httpListener: opts.host,
    httpPort: 8123,
    IPSources: ['host', 'netinfo'],
    // The node-local resolvers forward everything else; this one answers .mesos only.
    externalOn: false,
  };
  return parseMesosDnsConfig(doc, { file: '(built into dcnet master)', resolvConfNameservers: [] }).config;
}

export interface MasterRoles {
  readonly poller: MesosStatePoller;
  readonly zones: MasterZones;
  readonly mesosDns: RunningMesosDns | undefined;
  stop(): Promise<void>;
}

export function startMasterRoles(o: MasterRolesOptions): MasterRoles {
  const poller = new MesosStatePoller({
    masters: o.mesos,
    refreshMs: o.refreshMs,
    timeoutMs: Math.max(2000, o.refreshMs * 2),
    log: o.log.child({ part: 'mesos-poller' }),
    ...(o.mesosAuth && { auth: o.mesosAuth }),
  });
  const masterIps = o.mesos.map((m) => parseMasterEntry(m).host).filter((h) => parseAddress(h) !== undefined);
  const zones = new MasterZones({
    store: o.server.store,
    log: o.log.child({ part: 'dns-zones' }),
    leading: () => o.server.leading(),
    masterIps,
  });
  // The VIP table every agent programs (only the leader writes it).
  const vips = new L4lbPublisher({
    store: o.server.store,
    log: o.log.child({ part: 'l4lb' }),
    isLeader: () => o.server.leading() !== undefined,
    derive: {
      enableIpv6: o.enableIpv6,
      ...(o.l4lb && { range4: o.l4lb.namedRange4, range6: o.l4lb.namedRange6 }),
      policy: clusterVipPolicy({
        ...(o.l4lb && {
          namedRanges: [o.l4lb.namedRange4, o.l4lb.namedRange6],
          extraRanges: o.l4lb.ipVipRanges,
        }),
        ...(o.network && {
          overlays: o.network.overlays.flatMap((ov) =>
            [ov.v4, ov.v6].filter((p) => p !== undefined).map((p) => ({ name: ov.name, subnet: p.subnet })),
          ),
          vtepSubnets: [o.network.vtep4, ...(o.network.vtep6 ? [o.network.vtep6] : [])],
        }),
        masters: masterIps,
        localAddresses: Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address)),
      }),
    },
  });
  poller.onState((state) => {
    void zones.onState(state);
    void vips.update(state);
  });
  poller.start();
  let mesosDns: RunningMesosDns | undefined;
  if (o.mesosDns) {
    const config = o.mesosDns;
    const auth = o.mesosDnsAuth ?? o.mesosAuth;
    mesosDns = startMesosDns({
      config,
      log: o.log.child({ part: 'mesos-dns' }),
      version: DCNET_VERSION,
      ...(auth && { auth }),
    });
    mesosDns.service.onRecords((s) => zones.onMesosRecords(s.records, config.Domain));
    mesosDns.ready.catch((err: unknown) => {
      o.log.fatal({ err }, 'Mesos-DNS could not listen; exiting so that a supervisor restarts the master');
      process.exit(1);
    });
  }
  return {
    poller,
    zones,
    mesosDns,
    async stop() {
      await Promise.all([poller.stop(), mesosDns?.close()]);
      zones.close();
    },
  };
}
