// The leading master's zone source: every Mesos state (and every Mesos-DNS record set) becomes the
// `dcos.thisdcos.directory` (and `mesos.thisdcos.directory`) zone in the store. Every master polls,
// only the leader writes; a master that becomes leader writes at least once in its term.
import { lookup } from 'node:dns/promises';
import type { Logger } from 'pino';
import { leaderHost, pidHost, type MesosState } from '../../cluster/index.js';
import { parseAddress } from '../../net/index.js';
import type { Compare, Store } from '../../store/index.js';
import { ZonePublisher } from './publisher.js';
import { dcosZone, mesosMirrorZone, ZONES } from './zones.js';

export interface MasterZonesOptions {
  readonly store: Store;
  readonly log: Logger;
  /** The fence of this master's writes while it leads; undefined while it follows. */
  readonly leading: () => { readonly fence: readonly Compare[] } | undefined;
  /** Every master's IP (`master.dcos.thisdcos.directory`). */
  readonly masterIps: readonly string[];
  readonly minIntervalMs?: number;
}

export class MasterZones {
  private readonly publisher: ZonePublisher;
  private wasLeading = false;
  private readonly resolved = new Map<string, string>();

  constructor(private readonly o: MasterZonesOptions) {
    this.publisher = new ZonePublisher({
      store: o.store,
      log: o.log,
      fence: () =>
        o.leading()?.fence ?? [{ key: 'dns/not-leading', target: 'version', result: 'less', value: 0 }],
      ...(o.minIntervalMs !== undefined && { minIntervalMs: o.minIntervalMs }),
    });
  }

  /** A new Mesos state: rebuild the dcos zone (agent host names resolved first). */
  async onState(state: MesosState): Promise<void> {
    if (!this.checkLeading()) return;
    await this.resolveAgents(state);
    this.publisher.publish(
      ZONES.dcos,
      dcosZone({
        state,
        resolved: this.resolved,
        ...(leaderHost(state.leader) !== undefined && { leaderIp: leaderHost(state.leader)! }),
        masterIps: this.o.masterIps,
      }),
    );
  }

  /** A new Mesos-DNS record set: mirror it as `mesos.thisdcos.directory`. */
  onMesosRecords(records: Parameters<typeof mesosMirrorZone>[0], domain: string): void {
    if (!this.checkLeading()) return;
    this.publisher.publish(ZONES.mesos, mesosMirrorZone(records, domain));
  }

  get counts(): ZonePublisher['counts'] {
    return this.publisher.counts;
  }

  flush(): Promise<void> {
    return this.publisher.flushAll();
  }

  close(): void {
    this.publisher.close();
  }

  private checkLeading(): boolean {
    const now = this.o.leading() !== undefined;
    if (now && !this.wasLeading) {
      this.publisher.reset();
      this.o.log.info('leading: publishing the dcos-dns zones');
    }
    this.wasLeading = now;
    return now;
  }

  private async resolveAgents(state: MesosState): Promise<void> {
    for (const s of state.slaves) {
      const host = pidHost(s.pid) ?? s.hostname;
      if (!host || parseAddress(host) || this.resolved.has(host)) continue;
      try {
        const r = await lookup(host, { family: 4 });
        this.resolved.set(host, r.address);
      } catch (err) {
        this.o.log.warn(
          { host, err: err instanceof Error ? err.message : String(err) },
          'agent host name does not resolve; its tasks get no dcos names',
        );
      }
    }
  }
}
