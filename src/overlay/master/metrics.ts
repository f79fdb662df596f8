// Prometheus metrics of the overlay master, in a registry of its own (no global state).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MasterEvents, OverlayMaster } from './master.js';

export interface MasterMetrics {
  readonly registry: Registry;
  readonly events: MasterEvents;
  /** Pool gauges read the master when scraped. */
  attach(master: OverlayMaster): void;
}

export function createMasterMetrics(registry = new Registry()): MasterMetrics {
  let master: OverlayMaster | undefined;
  const registrations = new Counter({
    name: 'dcnet_overlay_registrations_total',
    help: 'Agent registrations answered, by outcome (new, extended, existing)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const refused = new Counter({
    name: 'dcnet_overlay_registrations_refused_total',
    help: 'Registrations refused, by reason (VTEP_EXHAUSTED, VTEP6_EXHAUSTED)',
    labelNames: ['code'],
    registers: [registry],
  });
  const skipped = new Counter({
    name: 'dcnet_overlay_subnet_allocation_failures_total',
    help: 'Agents registered without an overlay because its subnet pool was exhausted',
    labelNames: ['overlay', 'family'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'dcnet_overlay_registration_seconds',
    help: 'Time to answer a registration, including the durable write',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Gauge({
    name: 'dcnet_overlay_agents',
    help: 'Agents known to the overlay master',
    registers: [registry],
    collect() {
      if (master) this.set(master.agentCount);
    },
  });
  const poolGauge = (
    name: string,
    help: string,
    pick: (p: { size: bigint; used: number }) => number,
  ): void => {
    new Gauge({
      name,
      help,
      labelNames: ['pool', 'family'],
      registers: [registry],
      collect() {
        if (!master) return;
        const { pools } = master;
        this.set(
          { pool: 'vtep', family: '4' },
          pick({ size: pools.vtep4.pool.size, used: pools.vtep4.pool.usedCount }),
        );
        if (pools.vtep6)
          this.set(
            { pool: 'vtep', family: '6' },
            pick({ size: pools.vtep6.pool.size, used: pools.vtep6.pool.usedCount }),
          );
        for (const [name, p] of pools.overlays) {
          if (p.v4)
            this.set({ pool: name, family: '4' }, pick({ size: p.v4.pool.size, used: p.v4.pool.usedCount }));
          if (p.v6)
            this.set({ pool: name, family: '6' }, pick({ size: p.v6.pool.size, used: p.v6.pool.usedCount }));
        }
      },
    });
  };
  poolGauge('dcnet_overlay_pool_size', 'Addresses (VTEP) or agent subnets (overlay) in a pool', (p) =>
    Number(p.size),
  );
  poolGauge('dcnet_overlay_pool_used', 'Allocated entries of a pool', (p) => p.used);
  poolGauge('dcnet_overlay_pool_free', 'Free entries of a pool', (p) => Number(p.size - BigInt(p.used)));
  return {
    registry,
    attach(m) {
      master = m;
    },
    events: {
      onRegistered(outcome, seconds) {
        registrations.inc({ outcome });
        latency.observe(seconds);
      },
      onRefused(code) {
        refused.inc({ code });
      },
      onSkipped(s) {
        skipped.inc({ overlay: s.overlay, family: String(s.family) });
      },
    },
  };
}
