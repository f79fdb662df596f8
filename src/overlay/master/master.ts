// The overlay master: recovers every allocation from the store at start (eagerly, unlike the
// original), allocates for registering agents, and answers only once the allocation is durable.
// Registrations of different agents run concurrently (their writes share an fsync); the same
// agent's requests are serialised so that it can never get two allocations.
import type { Logger } from 'pino';
import type { NetworkConfig, RawOverlayNetwork } from '../../config/index.js';
import { StoreError, type Compare, type Op, type Store, type TxnResult } from '../../store/index.js';
import { agentInfoJson, networkJson, renderAgentInfo, stateJson } from '../render.js';
import {
  AGENTS_PREFIX,
  agentKey,
  agentGoneKey,
  nodeKey,
  agentRecordSchema,
  NETWORK_KEY,
  type AgentInfo,
  type AgentRecord,
  type OverlayStatus,
} from '../types.js';
import {
  AllocationError,
  allocateNewAgent,
  extendAgent,
  releaseRecord,
  reserveRecord,
  type Allocation,
  type RegistrationRequest,
  type SkippedOverlay,
} from './allocate.js';
import { configChanges } from './compat.js';
import { MasterPools } from './pools.js';
import { AllocationGc, type GoneMark } from './gc.js';

export { AllocationError, type RegistrationRequest } from './allocate.js';

interface Entry {
  record: AgentRecord;
  createRevision: number;
  modRevision: number;
  statuses: Map<string, OverlayStatus>;
  /** Cached AgentInfo JSON; dropped whenever the entry changes. */
  json?: string;
  /** When this master last answered its registration (ms; in memory): the GC spares it after. */
  registeredAt?: number;
}

export interface OverlayMasterOptions {
  /** Seconds a departed agent keeps its allocation (`dcnet_overlay_allocation_gc`); 0: forever.
   *  Default: no GC (callers pass the configured value). */
  readonly allocationGcSeconds?: number;
  /** Clock for the GC (tests). */
  readonly now?: () => number;
}

export class RecoveryError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`cannot recover the overlay state:\n  - ${problems.join('\n  - ')}`);
    this.name = 'RecoveryError';
  }
}

export type RegistrationOutcome = 'new' | 'extended' | 'existing';

/** This master is no longer the leader (HA): the request should go to the new one. */
export class NotLeaderError extends Error {
  constructor() {
    super('this master is no longer the leader');
    this.name = 'NotLeaderError';
  }
}

export interface MasterEvents {
  onRegistered?(outcome: RegistrationOutcome, seconds: number): void;
  onRefused?(code: string): void;
  onSkipped?(skipped: SkippedOverlay): void;
  /** The store failed for good; the process should exit and be restarted. */
  onFatal?(err: Error): void;
}

export class OverlayMaster {
  private readonly agents = new Map<string, Entry>();
  private readonly locks = new Map<string, Promise<void>>();
  private readonly networkText: string;
  private stateCache: string | undefined;

  private constructor(
    readonly config: NetworkConfig,
    readonly pools: MasterPools,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly events: MasterEvents,
    /** Compares that every write carries (HA: "I am still the leader"). */
    private readonly fence: () => Compare[] = () => [],
    private readonly options: OverlayMasterOptions = {},
  ) {
    this.networkText = networkJson(config);
    this.now = options.now ?? Date.now;
  }

  private readonly now: () => number;
  private gc: AllocationGc | undefined;

  /** Loads every stored agent, checks the config against the stored one, reserves all addresses. */
  static async start(
    config: NetworkConfig,
    store: Store,
    log: Logger,
    events: MasterEvents = {},
    fence?: () => Compare[],
    options: OverlayMasterOptions = {},
  ): Promise<OverlayMaster> {
    const master = new OverlayMaster(config, new MasterPools(config), store, log, events, fence, options);
    await master.recover();
    const gcSeconds = options.allocationGcSeconds ?? 0;
    if (gcSeconds > 0) {
      master.gc = new AllocationGc({
        store,
        log: log.child({ part: 'allocation-gc' }),
        gcSeconds,
        now: master.now,
        target: {
          allocated: () => [...master.agents.keys()],
          write: (ops, compare) => master.write(ops, compare),
          collect: (ip, mark) => master.collect(ip, mark),
        },
      });
      await master.gc.start();
    }
    return master;
  }

  /** Stops the allocation GC (a demoted leader, shutdown). */
  stop(): void {
    this.gc?.stop();
  }

  /** The allocation GC's "gone since" marks (ms), by agent IP. */
  goneSince(): ReadonlyMap<string, GoneMark> {
    return this.gc?.marks() ?? new Map();
  }

  /** Runs one GC sweep now (tests). */
  async collectNow(): Promise<void> {
    await this.gc?.sweep();
  }

  /** Frees a departed agent's allocation, unless it came back since `mark` was written: its node
   *  entry exists, the mark changed, or it registered with this master after the mark. */
  private collect(ip: string, mark: GoneMark): Promise<boolean> {
    return this.withLocks([ip], async () => {
      const entry = this.agents.get(ip);
      if (!entry || (entry.registeredAt ?? 0) > mark.since) return false;
      let res: TxnResult;
      try {
        res = await this.write(
          [
            { type: 'delete', key: agentKey(ip) },
            { type: 'delete', key: agentGoneKey(ip) },
          ],
          [
            { key: nodeKey(ip), target: 'createRevision', result: 'equal', value: 0 },
            { key: agentGoneKey(ip), target: 'modRevision', result: 'equal', value: mark.modRevision },
            { key: agentKey(ip), target: 'modRevision', result: 'equal', value: entry.modRevision },
          ],
        );
      } catch (err) {
        this.fatalIfStoreBroken(err);
        throw err;
      }
      if (!res.succeeded) return false;
      releaseRecord(this.pools, entry.record);
      this.agents.delete(ip);
      this.stateCache = undefined;
      return true;
    });
  }

  private async recover(): Promise<void> {
    const started = Date.now();
    const storedNet = await this.store.get(NETWORK_KEY);
    if (storedNet) {
      let stored: RawOverlayNetwork;
      try {
        stored = JSON.parse(storedNet.value) as RawOverlayNetwork;
      } catch {
        throw new RecoveryError([`${NETWORK_KEY}: stored value is not JSON`]);
      }
      const { refused, accepted } = configChanges(stored, this.config);
      if (refused.length > 0) {
        throw new RecoveryError([
          ...refused.map((r) => `${r}; changing or removing what agents already use is not supported`),
          'revert the config, or start a new cluster with an empty --data-dir (every agent then gets new addresses)',
        ]);
      }
      for (const a of accepted) this.log.info({ change: a }, 'overlay config change accepted');
    }
    const { kvs } = await this.store.range(AGENTS_PREFIX);
    const problems: string[] = [];
    for (const kv of [...kvs].sort((a, b) => a.createRevision - b.createRevision)) {
      let record: AgentRecord;
      try {
        const parsed = agentRecordSchema.safeParse(JSON.parse(kv.value));
        if (!parsed.success) {
          problems.push(
            `${kv.key}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
          );
          continue;
        }
        record = parsed.data;
      } catch {
        problems.push(`${kv.key}: stored value is not JSON`);
        continue;
      }
      const bad = reserveRecord(this.pools, record);
      if (bad.length > 0) {
        problems.push(...bad.map((b) => `${kv.key}: ${b}`));
        continue;
      }
      this.agents.set(record.ip, {
        record,
        createRevision: kv.createRevision,
        modRevision: kv.modRevision,
        statuses: new Map(),
      });
    }
    if (problems.length > 0) throw new RecoveryError(problems);
    const raw = JSON.stringify(this.config.raw);
    if (storedNet?.value !== raw) await this.write([{ type: 'put', key: NETWORK_KEY, value: raw }]);
    this.log.info({ agents: this.agents.size, ms: Date.now() - started }, 'overlay state recovered');
  }

  /** A fenced write: refused with NotLeaderError once another master leads. */
  private async write(ops: Op[], compare: Compare[] = []): Promise<TxnResult> {
    const fence = this.fence();
    const res = await this.store.txn({ compare: [...compare, ...fence], success: ops });
    if (!res.succeeded && fence.length > 0) {
      const still = await this.store.txn({ compare: fence, success: [] });
      if (!still.succeeded) throw new NotLeaderError();
    }
    return res;
  }

  /** Runs `fn` once no earlier operation on any of `ips` is pending. */
  private withLocks<T>(ips: readonly string[], fn: () => Promise<T>): Promise<T> {
    const prev = ips.map((ip) => this.locks.get(ip)).filter((p): p is Promise<void> => p !== undefined);
    const run = (prev.length ? Promise.allSettled(prev) : Promise.resolve()).then(fn);
    const settled = run.then(
      () => {},
      () => {},
    );
    for (const ip of ips) this.locks.set(ip, settled);
    void settled.then(() => {
      for (const ip of ips) if (this.locks.get(ip) === settled) this.locks.delete(ip);
    });
    return run;
  }

  private fatalIfStoreBroken(err: unknown): void {
    if (err instanceof StoreError && (err.code === 'io' || err.code === 'corrupt' || err.code === 'closed')) {
      this.events.onFatal?.(err);
    }
  }

  register(
    req: RegistrationRequest,
  ): Promise<{ info: AgentInfo; json: string; outcome: RegistrationOutcome }> {
    const started = process.hrtime.bigint();
    return this.withLocks([req.ip], async () => {
      const existing = this.agents.get(req.ip);
      let alloc: Allocation;
      try {
        alloc = existing
          ? extendAgent(this.config, this.pools, existing.record, req)
          : allocateNewAgent(this.config, this.pools, req);
      } catch (err) {
        if (err instanceof AllocationError) {
          this.events.onRefused?.(err.code);
          this.log.warn({ agent: req.ip, code: err.code }, err.message);
        }
        throw err;
      }
      for (const s of alloc.skipped) {
        this.events.onSkipped?.(s);
        this.log.warn(
          { agent: req.ip, overlay: s.overlay, family: s.family },
          `agent registered without overlay: ${s.reason}`,
        );
      }
      let outcome: RegistrationOutcome = 'existing';
      if (alloc.changed) {
        outcome = existing ? 'extended' : 'new';
        const key = agentKey(req.ip);
        const compare = existing
          ? { key, target: 'modRevision' as const, result: 'equal' as const, value: existing.modRevision }
          : { key, target: 'createRevision' as const, result: 'equal' as const, value: 0 };
        try {
          const res = await this.write(
            [{ type: 'put', key, value: JSON.stringify(alloc.record) }],
            [compare],
          );
          if (!res.succeeded) throw new StoreError('invalid', `${key} was changed by another writer`);
          const entry: Entry = existing
            ? { ...existing, record: alloc.record, modRevision: res.revision }
            : {
                record: alloc.record,
                createRevision: res.revision,
                modRevision: res.revision,
                statuses: new Map(),
              };
          delete entry.json;
          this.agents.set(req.ip, entry);
          this.stateCache = undefined;
        } catch (err) {
          alloc.undo();
          this.fatalIfStoreBroken(err);
          throw err;
        }
        this.log.info(
          {
            agent: req.ip,
            vtep: alloc.record.vtep.ip,
            overlays: alloc.record.overlays.map((o) => o.subnet ?? o.subnet6 ?? o.name),
          },
          outcome === 'new' ? 'agent registered' : 'agent allocation extended',
        );
      }
      const entry = this.agents.get(req.ip)!;
      entry.registeredAt = this.now();
      const json = this.entryJson(entry);
      this.events.onRegistered?.(outcome, Number(process.hrtime.bigint() - started) / 1e9);
      return { info: this.render(entry), json, outcome };
    });
  }

  /** Frees the allocations of departed agents (POST /overlay-master/agents/delete). Unknown IPs are ignored. */
  deleteAgents(ips: readonly string[]): Promise<string[]> {
    const unique = [...new Set(ips)];
    return this.withLocks(unique, async () => {
      const known = unique.filter((ip) => this.agents.has(ip));
      if (known.length === 0) return [];
      try {
        // The node's published info goes in the same transaction, so that every agent withdraws
        // its routes at once (the original never cleaned up).
        await this.write(
          known.flatMap((ip) => [
            { type: 'delete' as const, key: agentKey(ip) },
            { type: 'delete' as const, key: nodeKey(ip) },
            { type: 'delete' as const, key: agentGoneKey(ip) },
          ]),
        );
      } catch (err) {
        this.fatalIfStoreBroken(err);
        throw err;
      }
      for (const ip of known) {
        releaseRecord(this.pools, this.agents.get(ip)!.record);
        this.agents.delete(ip);
      }
      this.stateCache = undefined;
      this.log.info({ agents: known }, 'agents deleted; their addresses are free again');
      return known;
    });
  }

  /** An agent reports the configuration outcome of its overlays (kept in memory, as DC/OS does). */
  acknowledge(ip: string, statuses: readonly { name: string; status: OverlayStatus }[]): boolean {
    const entry = this.agents.get(ip);
    if (!entry) return false;
    const names = new Set(entry.record.overlays.map((o) => o.name));
    for (const s of statuses) if (names.has(s.name)) entry.statuses.set(s.name, s.status);
    delete entry.json;
    this.stateCache = undefined;
    return true;
  }

  private render(entry: Entry): AgentInfo {
    return renderAgentInfo(entry.record, this.config, entry.statuses);
  }

  private entryJson(entry: Entry): string {
    return (entry.json ??= agentInfoJson(this.render(entry)));
  }

  agentInfo(ip: string): { info: AgentInfo; json: string } | undefined {
    const entry = this.agents.get(ip);
    return entry && { info: this.render(entry), json: this.entryJson(entry) };
  }

  /** GET /overlay-master/state: agents in registration order. */
  stateJson(): string {
    if (this.stateCache === undefined) {
      const entries = [...this.agents.values()].sort((a, b) => a.createRevision - b.createRevision);
      this.stateCache = stateJson(
        entries.map((e) => this.entryJson(e)),
        this.networkText,
      );
    }
    return this.stateCache;
  }

  get agentCount(): number {
    return this.agents.size;
  }

  records(): AgentRecord[] {
    return [...this.agents.values()].map((e) => e.record);
  }
}
