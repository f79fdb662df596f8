// Every node's set of dcos-dns zones: the local ones it computes itself (spartan, localhost,
// thisnode, zk, l4lb) and the ones the leading master publishes in the store (dcos, mesos). Each
// zone is replaced whole in the sink (the DNS responder); a malformed stored zone is refused with a
// log line and the previous copy keeps answering.
import type { Logger } from 'pino';
import { PrefixMirror, type Store } from '../../store/index.js';
import { parseStoredZone, ZONES_PREFIX } from './store-format.js';
import { localhostZone, spartanZone, thisnodeZone, zkZone, ZONES, type ZoneRecords } from './zones.js';

export interface ZoneSink {
  setZone(origin: string, records: ZoneRecords): void;
  deleteZone(origin: string): void;
}

export interface NodeZonesOptions {
  readonly sink: ZoneSink;
  readonly log: Logger;
  /** Where the gossiped zones come from; omit for a node that serves only local zones. */
  readonly store?: Store;
  readonly privateIp: string;
  readonly publicIps?: readonly string[];
  /** Zones only the leader may publish; anything else under the prefix is ignored. */
  readonly gossiped?: readonly string[];
}

export class NodeZones {
  private mirror: PrefixMirror | undefined;
  /** What the sink holds, for the HTTP API and status. */
  private readonly zones = new Map<string, ZoneRecords>();
  private readonly installed = new Map<string, number>();
  private readonly gossiped: ReadonlySet<string>;

  private readonly sink: ZoneSink;

  constructor(private readonly o: NodeZonesOptions) {
    this.gossiped = new Set(o.gossiped ?? [ZONES.dcos, ZONES.mesos]);
    this.sink = {
      setZone: (origin, records) => {
        this.zones.set(origin, records);
        o.sink.setZone(origin, records);
      },
      deleteZone: (origin) => {
        this.zones.delete(origin);
        o.sink.deleteZone(origin);
      },
    };
  }

  /** Every zone this node serves, by origin. */
  all(): ReadonlyMap<string, ZoneRecords> {
    return this.zones;
  }

  async start(): Promise<void> {
    const { sink } = this;
    sink.setZone(ZONES.spartan, spartanZone());
    sink.setZone(ZONES.localhost, localhostZone());
    sink.setZone(ZONES.thisnode, thisnodeZone(this.o.privateIp, this.o.publicIps));
    sink.setZone(ZONES.zk, zkZone([]));
    if (!this.o.store) return;
    this.mirror = new PrefixMirror({
      store: this.o.store,
      prefix: ZONES_PREFIX,
      log: this.o.log,
      onChange: (entries, changed) => this.onStored(entries, changed),
    });
    // Do not wait for the store: local zones answer at once, gossiped ones when the store answers.
    void this.mirror.start();
  }

  stop(): void {
    this.mirror?.stop();
  }

  /** The masters changed: `zk-N.zk` follow them. */
  setMasters(ips: readonly string[]): void {
    this.sink.setZone(ZONES.zk, zkZone(ips));
  }

  /** A locally computed zone (the L4LB names). */
  setLocalZone(origin: string, records: ZoneRecords): void {
    this.sink.setZone(origin, records);
  }

  /** Publication times of the installed gossiped zones (for status and staleness). */
  installedZones(): ReadonlyMap<string, number> {
    return this.installed;
  }

  private onStored(entries: ReadonlyMap<string, string>, changed: ReadonlySet<string> | 'all'): void {
    const keys =
      changed === 'all'
        ? new Set([...entries.keys(), ...[...this.installed.keys()].map((o) => ZONES_PREFIX + o)])
        : changed;
    for (const key of keys) {
      const origin = key.slice(ZONES_PREFIX.length);
      if (!this.gossiped.has(origin)) {
        this.o.log.warn({ key }, 'ignoring a stored zone dcnet does not gossip');
        continue;
      }
      const value = entries.get(key);
      if (value === undefined) {
        if (this.installed.delete(origin)) {
          this.sink.deleteZone(origin);
          this.o.log.info({ zone: origin }, 'zone withdrawn');
        }
        continue;
      }
      try {
        const stored = parseStoredZone(value);
        if (stored.origin !== origin)
          throw new Error(`zone value: origin: "${stored.origin}" stored under ${key}`);
        this.sink.setZone(origin, stored.records);
        this.installed.set(origin, stored.at);
      } catch (err) {
        this.o.log.error(
          { zone: origin, err: err instanceof Error ? err.message : String(err) },
          'refusing a malformed zone; the previous copy keeps answering',
        );
      }
    }
  }
}
