// The Mesos-DNS record service: turns each polled master state into a new record set (host names
// resolved first), keeps the last good set and its SOA serial, and tells subscribers (the DNS
// responder, the HTTP API, the dcos-dns mirror) about every new set. A failed poll or a garbage
// state never replaces good records: the old ones stay in service (specs/mesos-dns.md §2.3).
import { lookup as dnsLookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import { parseMesosState, type MesosState } from '../../cluster/index.js';
import type { MesosDnsConfig } from './config.js';
import { splitHostPort } from './config.js';
import {
  canonicalIp,
  generateRecords,
  hostsToResolve,
  splitPid,
  type EnumerationFramework,
  type GeneratorConfig,
  type GeneratedRecords,
} from './records.js';

export interface MesosDnsSnapshot {
  readonly records: GeneratedRecords;
  /** SOA serial: Unix seconds of the refresh that produced these records. */
  readonly serial: number;
  /** When the records were generated (ms since the epoch). */
  readonly at: number;
  /** The master the state came from, when known. */
  readonly master?: string;
  /**
   * The `/v1/enumerate` tree of these records, built on first use from the same state and
   * lookups (a refresh does not pay for a listing that is rarely asked for).
   */
  enumeration(): EnumerationFramework[];
}

/** What delivers master states: the cluster poller (`MesosStatePoller`, already zod-parsed). */
export interface StateSource {
  onState(fn: (state: MesosState, meta: { master: string; at: number }) => void): () => void;
}

/** A source polled on our own clock, so that a failed poll can be reported (`MesosStatePoller`). */
export interface PolledStateSource extends StateSource {
  /** One poll; true when a state was delivered to the `onState` listeners. */
  pollOnce(): Promise<boolean>;
}

export interface MesosDnsServiceOptions {
  readonly config: MesosDnsConfig;
  readonly log: Logger;
  /** Resolves a host name to all its addresses (default: the system resolver, like upstream). */
  readonly lookup?: (host: string) => Promise<string[]>;
  /** Local interface addresses without loopback (the name-server record for a wildcard listener). */
  readonly interfaceAddresses?: () => string[];
  readonly now?: () => number;
  /** How long one host-name lookup may take (default 5 s). */
  readonly lookupTimeoutMs?: number;
}

const systemLookup = async (host: string): Promise<string[]> =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** Every non-loopback interface address (IPv6 link-local included, as upstream). */
export function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((i) => !i.internal)
    .map((i) => i.address);
}

export class MesosDnsService {
  private snapshot: MesosDnsSnapshot | undefined;
  private readonly listeners = new Set<(s: MesosDnsSnapshot) => void>();
  private running: Promise<boolean> | undefined;
  private tickets = 0;
  private newest = 0;

  constructor(private readonly o: MesosDnsServiceOptions) {}

  get config(): MesosDnsConfig {
    return this.o.config;
  }

  /** The last good record set, or undefined before the first successful refresh. */
  current(): MesosDnsSnapshot | undefined {
    return this.snapshot;
  }

  /** Called with every new record set (not with the current one); returns an unsubscribe. */
  onRecords(fn: (s: MesosDnsSnapshot) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Feeds every state the source delivers into `update`. */
  follow(source: StateSource): () => void {
    return source.onState((state, meta) => void this.updateState(state, meta.master));
  }

  /** A poll failed: the old records stay (logged, as upstream). */
  pollFailed(reason: string): void {
    this.o.log.warn({ reason }, 'keeping old DNS state');
  }

  /**
   * Generates records from a state document (raw JSON or already parsed). Updates are serialised;
   * while one runs only the newest waiting state is kept. Resolves when this state was handled
   * (or superseded); true when it produced the current records.
   */
  async update(doc: unknown, master?: string): Promise<boolean> {
    return this.queue({ doc }, master);
  }

  /** As `update`, for a state that is already validated (the poller parses what it fetches). */
  async updateState(state: MesosState, master?: string): Promise<boolean> {
    return this.queue({ state }, master);
  }

  private async queue(input: { doc?: unknown; state?: MesosState }, master?: string): Promise<boolean> {
    const ticket = ++this.tickets;
    this.newest = ticket;
    while (this.running) await this.running;
    if (this.newest !== ticket) return false; // a newer state arrived meanwhile
    this.running = this.refresh(input, master);
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async refresh(
    input: { doc?: unknown; state?: MesosState },
    master: string | undefined,
  ): Promise<boolean> {
    const { config: c, log } = this.o;
    const started = performance.now();
    let state: MesosState;
    try {
      state = input.state ?? parseMesosState(input.doc);
    } catch (err) {
      log.warn({ reason: (err as Error).message, master }, 'keeping old DNS state');
      return false;
    }
    if (!state.leader || !splitPid(state.leader)) {
      log.warn(
        {
          reason: `fetched state does not contain leader information (leader: ${JSON.stringify(state.leader ?? '')})`,
          master,
        },
        'keeping old DNS state',
      );
      return false;
    }
    const masters = c.Masters ?? [];
    const names = new Set(hostsToResolve(state));
    for (const m of masters) {
      const hp = splitHostPort(m);
      if (hp && canonicalIp(hp.host) === undefined) names.add(hp.host);
    }
    const resolved = await this.resolveAll([...names]);
    const unresolved = [...names].filter((n) => (resolved.get(n) ?? []).length === 0);
    if (unresolved.length > 0)
      log.warn(
        { hosts: unresolved.slice(0, 20), count: unresolved.length },
        'host names without addresses: no records for them',
      );
    const genConfig: GeneratorConfig = {
      domain: c.Domain,
      soaMname: c.SOAMname,
      listenerAddrs: this.listenerAddrs(),
      spec: c.EnforceRFC952 ? 'rfc952' : 'rfc1123',
      ipSources: c.IPSources,
      masters: masters.flatMap((m) => expandMaster(m, resolved)),
    };
    const resolveHost = (host: string): readonly string[] => resolved.get(host) ?? [];
    let records: GeneratedRecords;
    try {
      records = generateRecords(state, genConfig, resolveHost);
    } catch (err) {
      // A generator bug must not take the service down with it.
      log.error({ err, master }, 'keeping old DNS state: record generation failed');
      return false;
    }
    let listing: EnumerationFramework[] | undefined;
    const enumeration = (): EnumerationFramework[] =>
      (listing ??= generateRecords(state, genConfig, resolveHost, { enumerate: true }).frameworks ?? []);
    if (records.skipped.length > 0)
      log.warn(
        { names: records.skipped.slice(0, 10), count: records.skipped.length },
        'names too long for DNS (label > 63 or name > 253 octets) left out',
      );
    const at = this.o.now?.() ?? Date.now();
    const first = this.snapshot === undefined;
    this.snapshot = {
      records,
      serial: Math.floor(at / 1000),
      at,
      ...(master !== undefined && { master }),
      enumeration,
    };
    const counts = { a: records.a.size, aaaa: records.aaaa.size, srv: records.srv.size };
    const ms = Math.round(performance.now() - started);
    if (first) log.info({ ...counts, ms, master, serial: this.snapshot.serial }, 'first DNS records loaded');
    else log.debug({ ...counts, ms, master, serial: this.snapshot.serial }, 'DNS records refreshed');
    for (const fn of this.listeners) {
      try {
        fn(this.snapshot);
      } catch (err) {
        log.error({ err }, 'a DNS records subscriber failed');
      }
    }
    return true;
  }

  private listenerAddrs(): string[] {
    const l = this.o.config.Listener;
    if (l === '0.0.0.0' || l === '::') return (this.o.interfaceAddresses ?? interfaceAddresses)();
    return [l];
  }

  private async resolveAll(hosts: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const lookup = this.o.lookup ?? systemLookup;
    const timeoutMs = this.o.lookupTimeoutMs ?? 5000;
    const one = async (host: string): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const addrs = await Promise.race([
          lookup(host),
          new Promise<string[]>((_, reject) => {
            timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
          }),
        ]);
        out.set(
          host,
          addrs.map((a) => canonicalIp(a)).filter((a): a is string => a !== undefined),
        );
      } catch {
        out.set(host, []);
      } finally {
        clearTimeout(timer);
      }
    };
    // A bounded number of lookups at once: a state may name thousands of agents by host name.
    const queue = [...hosts];
    await Promise.all(
      Array.from({ length: Math.min(16, queue.length) }, async () => {
        for (let h = queue.shift(); h !== undefined; h = queue.shift()) await one(h);
      }),
    );
    return out;
  }
}

/** A configured master as `ip:port` entries: an IP as written, a host name as each of its addresses. */
function expandMaster(entry: string, resolved: Map<string, string[]>): string[] {
  const hp = splitHostPort(entry);
  if (!hp) return [];
  if (canonicalIp(hp.host) !== undefined) return [entry];
  return (resolved.get(hp.host) ?? []).map((ip) =>
    ip.includes(':') ? `[${ip}]:${hp.port}` : `${ip}:${hp.port}`,
  );
}

/**
 * Polls `source` every `refreshMs` (the first poll at once) into `service`; a failed poll is
 * reported to the service (logged "keeping old DNS state"). Polls never overlap.
 */
export function pollInto(
  service: MesosDnsService,
  source: PolledStateSource,
  refreshMs: number,
): { stop(): Promise<void> } {
  const unsubscribe = service.follow(source);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let failures = 0;
  // Like the poller's own warning: the first failures, then one in ten, so an outage cannot flood the log.
  const failed = (reason: string): void => {
    failures++;
    if (failures <= 3 || failures % 10 === 0) service.pollFailed(`${reason} (${failures} in a row)`);
  };
  const tick = (): void => {
    running = source
      .pollOnce()
      .then((ok) => {
        if (ok) failures = 0;
        else failed('no Mesos master answered');
      })
      .catch((err: unknown) => failed((err as Error).message))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, refreshMs);
      });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      unsubscribe();
      await running;
    },
  };
}
