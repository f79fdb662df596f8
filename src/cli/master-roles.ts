// What a master runs beside the overlay allocator, all fed by one Mesos state poller: the
// dcos-dns zones the leader publishes to every node.
import type { Logger } from 'pino';
import { MesosStatePoller, parseMasterEntry } from '../cluster/index.js';
import { MasterZones } from '../dns/dcos/index.js';
import { parseAddress } from '../net/index.js';
import type { MasterServer } from '../overlay/index.js';

export interface MasterRolesOptions {
  readonly server: MasterServer;
  readonly log: Logger;
  /** Mesos masters, `host:port`. */
  readonly mesos: readonly string[];
  readonly refreshMs: number;
}

export interface MasterRoles {
  readonly poller: MesosStatePoller;
  readonly zones: MasterZones;
  stop(): Promise<void>;
}

export function startMasterRoles(o: MasterRolesOptions): MasterRoles {
  const poller = new MesosStatePoller({
    masters: o.mesos,
    refreshMs: o.refreshMs,
    timeoutMs: Math.max(2000, o.refreshMs * 2),
    log: o.log.child({ part: 'mesos-poller' }),
  });
  const masterIps = o.mesos.map((m) => parseMasterEntry(m).host).filter((h) => parseAddress(h) !== undefined);
  const zones = new MasterZones({
    store: o.server.store,
    log: o.log.child({ part: 'dns-zones' }),
    leading: () => o.server.leading(),
    masterIps,
  });
  poller.onState((state) => void zones.onState(state));
  poller.start();
  return {
    poller,
    zones,
    async stop() {
      await poller.stop();
      zones.close();
    },
  };
}
