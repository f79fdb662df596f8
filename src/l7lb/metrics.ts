// Prometheus metrics of `dcnet lb`, in a registry of its own.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export function createLbMetrics(registry = new Registry()) {
  return {
    registry,
    resets: new Counter({
      name: 'dcnet_lb_resyncs_total',
      help: 'Full rebuilds from Marathon, by outcome (ok, unchanged, error)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    reloads: new Counter({
      name: 'dcnet_lb_reloads_total',
      help: 'HAProxy reloads, by outcome (ok, failed)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    reloadsAvoided: new Counter({
      name: 'dcnet_lb_reloads_avoided_total',
      help: 'Config changes applied through the Runtime API instead of a reload',
      registers: [registry],
    }),
    runtimeCommands: new Counter({
      name: 'dcnet_lb_runtime_commands_total',
      help: 'Runtime API commands sent, by kind (add, remove, weight, drain)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    invalidConfigs: new Counter({
      name: 'dcnet_lb_invalid_configs_total',
      help: 'Rendered configs that haproxy -c rejected',
      registers: [registry],
    }),
    appErrors: new Gauge({
      name: 'dcnet_lb_apps_excluded',
      help: 'Apps left out of the config because of a bad label, template or HAProxy error',
      registers: [registry],
    }),
    services: new Gauge({
      name: 'dcnet_lb_services',
      help: 'Services (frontend/backend pairs) in the config',
      registers: [registry],
    }),
    servers: new Gauge({
      name: 'dcnet_lb_servers',
      help: 'Servers across all backends',
      registers: [registry],
    }),
    renderSeconds: new Histogram({
      name: 'dcnet_lb_render_seconds',
      help: 'Time to turn Marathon apps into HAProxy config text',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
  };
}

export type LbMetrics = ReturnType<typeof createLbMetrics>;
