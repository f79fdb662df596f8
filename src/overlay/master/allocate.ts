// Allocation for one agent, as specs/overlay.md §2.3–§2.5: the lowest free VTEP addresses, the MAC
// from the VTEP IPv4, and per enabled overlay the lowest free slice of each family. Every step is
// undoable, so a registration that is refused or fails to become durable gives everything back
// (the original leaked in both cases, bug B2).
import type { NetworkConfig } from '../../config/index.js';
import { vtepMac } from '../../net/index.js';
import type { AgentOverlayRecord, AgentRecord } from '../types.js';
import type { HostPool, MasterPools } from './pools.js';

export interface RegistrationRequest {
  readonly ip: string;
  readonly mesosBridge: boolean;
  readonly dockerBridge: boolean;
  readonly allocateSubnet: boolean;
}

export type AllocationErrorCode = 'VTEP_EXHAUSTED' | 'VTEP6_EXHAUSTED';

export class AllocationError extends Error {
  constructor(
    readonly code: AllocationErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AllocationError';
  }
}

export interface SkippedOverlay {
  readonly overlay: string;
  readonly family: 4 | 6;
  readonly reason: string;
}

export interface Allocation {
  readonly record: AgentRecord;
  /** Overlays the agent could not get (pool exhausted); retried when it registers again. */
  readonly skipped: readonly SkippedOverlay[];
  /** True if anything was allocated (the record must be written). */
  readonly changed: boolean;
  /** Gives back everything this allocation took. */
  readonly undo: () => void;
}

function exhaustedMessage(kind: string, pool: string, used: number, hint: string): string {
  return `no free ${kind} in ${pool} (${used} in use); ${hint}`;
}

/** Allocates the overlays the agent does not have yet (new, enabled ones) into `overlays`. */
function addOverlays(
  config: NetworkConfig,
  pools: MasterPools,
  req: RegistrationRequest,
  existing: readonly AgentOverlayRecord[],
  undo: (() => void)[],
  skipped: SkippedOverlay[],
): AgentOverlayRecord[] {
  const have = new Set(existing.map((o) => o.name));
  const added: AgentOverlayRecord[] = [];
  for (const def of config.overlays) {
    if (have.has(def.name) || !def.enabled) continue;
    if (!req.allocateSubnet) {
      added.push({ name: def.name, mesos_bridge: false, docker_bridge: false });
      continue;
    }
    const p = pools.overlays.get(def.name)!;
    const taken: (() => void)[] = [];
    let subnet: string | undefined;
    let subnet6: string | undefined;
    let failed = false;
    for (const [family, pool] of [
      [4, p.v4],
      [6, p.v6],
    ] as const) {
      if (!pool) continue;
      const slice = pool.allocate();
      if (slice === undefined) {
        skipped.push({
          overlay: def.name,
          family,
          reason: exhaustedMessage(
            `/${pool.def.prefix} agent subnet`,
            pool.def.text,
            pool.pool.usedCount,
            'delete departed agents to free theirs',
          ),
        });
        failed = true;
        break;
      }
      taken.push(() => pool.release(slice));
      if (family === 4) subnet = slice;
      else subnet6 = slice;
    }
    if (failed) {
      for (const t of taken) t();
      continue;
    }
    undo.push(...taken);
    added.push({
      name: def.name,
      ...(subnet !== undefined && { subnet }),
      ...(subnet6 !== undefined && { subnet6 }),
      mesos_bridge: req.mesosBridge,
      docker_bridge: req.dockerBridge,
    });
  }
  return added;
}

function byConfigOrder(config: NetworkConfig, overlays: AgentOverlayRecord[]): AgentOverlayRecord[] {
  const order = new Map<string, number>(config.overlays.map((o, i) => [o.name, i]));
  return overlays.sort((a, b) => (order.get(a.name) ?? Infinity) - (order.get(b.name) ?? Infinity));
}

function runAll(fns: (() => void)[]): () => void {
  return () => {
    for (const f of fns.splice(0).reverse()) f();
  };
}

/** Takes the lowest free VTEP address of one family, or refuses the registration. */
function allocateVtep(
  pool: HostPool,
  family: 4 | 6,
  subnetText: string,
  undo: (() => void)[],
): { text: string; value: bigint } {
  const got = pool.allocate();
  if (!got) {
    runAll(undo)();
    throw new AllocationError(
      family === 4 ? 'VTEP_EXHAUSTED' : 'VTEP6_EXHAUSTED',
      exhaustedMessage(
        `VTEP IPv${family} address`,
        subnetText,
        pool.pool.usedCount,
        'delete departed agents with POST /overlay-master/agents/delete',
      ),
    );
  }
  undo.push(() => pool.release(got.text));
  return got;
}

export function allocateNewAgent(
  config: NetworkConfig,
  pools: MasterPools,
  req: RegistrationRequest,
): Allocation {
  const undo: (() => void)[] = [];
  const v4 = allocateVtep(pools.vtep4, 4, config.raw.vtep_subnet, undo);
  const v6 = pools.vtep6 && allocateVtep(pools.vtep6, 6, config.raw.vtep_subnet6 ?? '', undo);
  const skipped: SkippedOverlay[] = [];
  const overlays = addOverlays(config, pools, req, [], undo, skipped);
  const record: AgentRecord = {
    ip: req.ip,
    vtep: { ip: v4.text, ...(v6 && { ip6: v6.text }), mac: vtepMac(config.oui, v4.value) },
    overlays,
  };
  return { record, skipped, changed: true, undo: runAll(undo) };
}

/** A known agent: existing allocations never change; only missing overlays and a missing VTEP
 *  IPv6 (vtep_subnet6 added later) are allocated. */
export function extendAgent(
  config: NetworkConfig,
  pools: MasterPools,
  record: AgentRecord,
  req: RegistrationRequest,
): Allocation {
  const undo: (() => void)[] = [];
  let vtep = record.vtep;
  if (pools.vtep6 && vtep.ip6 === undefined) {
    vtep = { ...vtep, ip6: allocateVtep(pools.vtep6, 6, config.raw.vtep_subnet6 ?? '', undo).text };
  }
  const skipped: SkippedOverlay[] = [];
  const added = addOverlays(config, pools, req, record.overlays, undo, skipped);
  const changed = added.length > 0 || vtep !== record.vtep;
  const next = changed
    ? { ...record, vtep, overlays: byConfigOrder(config, [...record.overlays, ...added]) }
    : record;
  return { record: next, skipped, changed, undo: runAll(undo) };
}

/** Marks a stored record's addresses used (recovery). Returns the problems; nothing is kept
 *  reserved when there are any. */
export function reserveRecord(pools: MasterPools, record: AgentRecord): string[] {
  const problems: string[] = [];
  const undo: (() => void)[] = [];
  const take = (what: string, reserve: () => string | undefined, release: () => void): void => {
    const problem = reserve();
    if (problem) problems.push(`${what}: ${problem}`);
    else undo.push(release);
  };
  const { vtep } = record;
  take(
    'vtep.ip',
    () => pools.vtep4.reserve(vtep.ip),
    () => pools.vtep4.release(vtep.ip),
  );
  if (vtep.ip6 !== undefined) {
    const p6 = pools.vtep6;
    if (!p6) problems.push(`vtep.ip6: ${vtep.ip6} is stored but vtep_subnet6 is not configured`);
    else
      take(
        'vtep.ip6',
        () => p6.reserve(vtep.ip6!),
        () => p6.release(vtep.ip6!),
      );
  }
  for (const o of record.overlays) {
    const p = pools.overlays.get(o.name);
    if (!p) {
      problems.push(`overlays: "${o.name}" is not a configured overlay`);
      continue;
    }
    for (const [field, text, pool] of [
      ['subnet', o.subnet, p.v4],
      ['subnet6', o.subnet6, p.v6],
    ] as const) {
      if (text === undefined) continue;
      if (!pool)
        problems.push(`overlays "${o.name}".${field}: ${text} is stored but the overlay has no ${field}`);
      else
        take(
          `overlays "${o.name}".${field}`,
          () => pool.reserve(text),
          () => pool.release(text),
        );
    }
  }
  if (problems.length > 0) runAll(undo)();
  return problems;
}

export function releaseRecord(pools: MasterPools, record: AgentRecord): void {
  pools.vtep4.release(record.vtep.ip);
  if (record.vtep.ip6 !== undefined) pools.vtep6?.release(record.vtep.ip6);
  for (const o of record.overlays) {
    const p = pools.overlays.get(o.name);
    if (o.subnet !== undefined) p?.v4?.release(o.subnet);
    if (o.subnet6 !== undefined) p?.v6?.release(o.subnet6);
  }
}
