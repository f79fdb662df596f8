// Address usage per pool, so that exhaustion is visible before it bites (DC/OS had no way to see it).
import type { OverlayMaster } from './master.js';
import type { IndexPool } from './pool.js';

/** Counts as JSON numbers while exact, as decimal strings beyond 2^53 (IPv6 pools). */
type Count = number | string;
const count = (n: bigint): Count => (n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString());

export interface PoolCounts {
  readonly subnet: string;
  readonly prefix?: number;
  readonly size: Count;
  readonly used: number;
  readonly free: Count;
}

export interface PoolUsage {
  readonly agents: number;
  readonly vtep: { readonly ipv4: PoolCounts; readonly ipv6?: PoolCounts };
  readonly overlays: readonly {
    readonly name: string;
    readonly enabled: boolean;
    readonly ipv4?: PoolCounts;
    readonly ipv6?: PoolCounts;
    /** Agents that registered with subnets but could not get this (enabled) overlay. */
    readonly agents_without: number;
  }[];
}

function counts(subnet: string, pool: IndexPool, prefix?: number): PoolCounts {
  return {
    subnet,
    ...(prefix !== undefined && { prefix }),
    size: count(pool.size),
    used: pool.usedCount,
    free: count(pool.free),
  };
}

export function poolUsage(master: OverlayMaster): PoolUsage {
  const { config, pools } = master;
  const records = master.records();
  return {
    agents: records.length,
    vtep: {
      ipv4: counts(config.raw.vtep_subnet, pools.vtep4.pool),
      ...(pools.vtep6 &&
        config.raw.vtep_subnet6 && { ipv6: counts(config.raw.vtep_subnet6, pools.vtep6.pool) }),
    },
    overlays: config.overlays.map((def) => {
      const p = pools.overlays.get(def.name)!;
      const withSubnets = records.filter(
        (r) =>
          r.overlays.some((o) => o.subnet !== undefined || o.subnet6 !== undefined) ||
          r.overlays.length === 0,
      );
      return {
        name: def.name,
        enabled: def.enabled,
        ...(p.v4 && { ipv4: counts(def.v4!.text, p.v4.pool, def.v4!.prefix) }),
        ...(p.v6 && { ipv6: counts(def.v6!.text, p.v6.pool, def.v6!.prefix) }),
        agents_without: def.enabled
          ? withSubnets.filter((r) => !r.overlays.some((o) => o.name === def.name)).length
          : 0,
      };
    }),
  };
}
