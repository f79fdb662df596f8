// The agent's L4LB endpoints: `GET /v1/vips` in dcos-net's format (specs/dcos-net.md §2.7), the
// table this node follows, and Prometheus metrics of its syncs.
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { L4lbAgent } from './agent.js';
import { vipFqdn } from './dns.js';
import type { VipTable } from './types.js';

export interface VipsEntry {
  vip: string;
  protocol: string;
  backend: { ip: string; port: number }[];
}

/** dcos-net's `/v1/vips`: named VIPs by name (both families together), IP VIPs by address. */
export function vipsJson(table: VipTable): VipsEntry[] {
  const out = new Map<string, VipsEntry>();
  for (const v of table.vips) {
    const vip = v.name
      ? `${vipFqdn(v.name).slice(0, -1)}:${v.port}`
      : `${v.family === 6 ? `[${v.ip}]` : v.ip}:${v.port}`;
    const key = `${v.protocol} ${vip}`;
    let e = out.get(key);
    if (!e) out.set(key, (e = { vip, protocol: v.protocol, backend: [] }));
    for (const b of v.backends) e.backend.push({ ip: b.ip, port: b.port });
  }
  return [...out.values()].sort((a, b) =>
    a.vip === b.vip ? (a.protocol < b.protocol ? -1 : 1) : a.vip < b.vip ? -1 : 1,
  );
}

export function registerL4lbRoutes(app: FastifyInstance, registry: Registry, agent: L4lbAgent): void {
  const seconds = new Histogram({
    name: 'dcnet_l4lb_sync_seconds',
    help: 'Time of one VIP data plane sync, by kind (full, incremental, repair, unchanged)',
    labelNames: ['kind'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const flushed = new Counter({
    name: 'dcnet_l4lb_flushed_backends_total',
    help: 'Departed backends whose flows were flushed (conntrack) or reset (nftables)',
    registers: [registry],
  });
  agent.onSynced((r) => {
    seconds.observe({ kind: r.kind }, r.ms / 1000);
    flushed.inc(r.flushed);
  });
  new Gauge({
    name: 'dcnet_l4lb_vips',
    help: 'VIPs in the table this node follows',
    registers: [registry],
    collect() {
      this.set(agent.table().vips.length);
    },
  });
  new Gauge({
    name: 'dcnet_l4lb_backends',
    help: 'Backends of all VIPs in the table this node follows',
    registers: [registry],
    collect() {
      this.set(agent.table().vips.reduce((n, v) => n + v.backends.length, 0));
    },
  });
  new Gauge({
    name: 'dcnet_l4lb_ready',
    help: '1 when the table is loaded and programmed without error',
    registers: [registry],
    collect() {
      this.set(agent.ready ? 1 : 0);
    },
  });
  app.get('/v1/vips', (_request, reply) =>
    reply.type('application/json').send(JSON.stringify(vipsJson(agent.table()))),
  );
}
