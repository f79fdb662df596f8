// dcos-dns query routing (specs/dcos-net.md §1.2): aliases renamed onto internal zones (and every
// name in the reply renamed back), `.mesos` to the masters' Mesos-DNS, the local zones
// (`localhost`, `zk`, `spartan`, `*.X.thisdcos.directory`) answered by the ZoneResponder,
// `forward_zones`, and everything else to the upstream resolvers.
//
// Deliberate differences: a forward zone is chosen by longest suffix (the original took whichever
// matching entry a map fold saw last); only the first question is routed (the original answered
// mixed multi-question queries internally); forwarded answers for non-cluster names may be cached;
// `.mesos` has forwarding slots of its own (a flood towards dead upstreams cannot starve it).
import { readFileSync } from 'node:fs';
import { AllowList, upstreamsFromResolvConf } from './access.js';
import { createDcosForwarder, ForwardCache, metricsFor } from './forward.js';
import { InFlightLimit } from './limits.js';
import type { DnsMetrics } from './metrics.js';
import type { DnsHandler, Upstream } from './types.js';
import { RCODE, fqdn, replyFor } from './wire.js';
import type { Rename, ZoneResponder } from './zone-responder.js';

export type DcosRoute =
  | { readonly kind: 'internal'; readonly zone: string; readonly rename?: Rename }
  | { readonly kind: 'mesos'; readonly zone: 'mesos.' }
  | { readonly kind: 'forward'; readonly zone: string }
  | { readonly kind: 'upstream'; readonly zone: '.' };

const L4LB = 'l4lb.thisdcos.directory.';

/** Where a (lower-case, absolute) name goes. `forwardZones` are absolute lower-case zone names. */
export function routeDcosDns(
  lname: string,
  clusterId: string | undefined,
  forwardZones: readonly string[] = [],
): DcosRoute {
  const labels = lname === '.' ? [] : lname.slice(0, -1).split('.');
  const n = labels.length;
  const at = (i: number): string | undefined => labels[n - i];
  if (n >= 3 && at(2) === 'thisdcos' && at(3) === 'dclb' && (at(1) === 'directory' || at(1) === 'global')) {
    return { kind: 'internal', zone: L4LB, rename: { internal: L4LB, external: `dclb.thisdcos.${at(1)}.` } };
  }
  if (n >= 3 && at(1) === 'global' && at(2) === 'thisdcos') {
    const zone = `${at(3)}.thisdcos.directory.`;
    return { kind: 'internal', zone, rename: { internal: zone, external: `${at(3)}.thisdcos.global.` } };
  }
  if (n >= 4 && clusterId && at(1) === 'directory' && at(2) === 'dcos' && at(3) === clusterId) {
    const zone = `${at(4)}.thisdcos.directory.`;
    return {
      kind: 'internal',
      zone,
      rename: { internal: zone, external: `${at(4)}.${clusterId}.dcos.directory.` },
    };
  }
  if (at(1) === 'mesos') return { kind: 'mesos', zone: 'mesos.' };
  if (lname === 'localhost.') return { kind: 'internal', zone: 'localhost.' };
  if (at(1) === 'zk') return { kind: 'internal', zone: 'zk.' };
  if (at(1) === 'spartan') return { kind: 'internal', zone: 'spartan.' };
  if (n >= 3 && at(1) === 'directory' && at(2) === 'thisdcos') {
    return { kind: 'internal', zone: `${at(3)}.thisdcos.directory.` };
  }
  let best: string | undefined;
  for (const z of forwardZones) {
    if ((lname === z || lname.endsWith(`.${z}`)) && (!best || z.length > best.length)) best = z;
  }
  return best ? { kind: 'forward', zone: best } : { kind: 'upstream', zone: '.' };
}

type UpstreamList = readonly Upstream[] | (() => readonly Upstream[]);

export interface DcosDnsRouterOptions {
  readonly zones: ZoneResponder;
  /** zbase32 cluster id for `*.<zone>.<id>.dcos.directory` (lower-case); unset = no such alias. */
  readonly clusterId?: string;
  /** The masters' Mesos-DNS (port 61053); empty → `.mesos` gets SERVFAIL at once. */
  readonly mesosResolvers?: UpstreamList;
  /** `forward_zones`: zone → resolvers. */
  readonly forwardZones?: Readonly<Record<string, readonly Upstream[]>>;
  /** Upstream resolvers; default: /etc/resolv.conf nameservers minus the host's own addresses. */
  readonly upstreams?: UpstreamList;
  /** Per upstream attempt (default 5000 ms). */
  readonly timeoutMs?: number;
  readonly allow?: AllowList;
  /** Cache for upstream/forward-zone answers (not `.mesos`); `false` disables. Default: 10k entries. */
  readonly cache?: ForwardCache | false;
  /** Default: the counters of the server the router is mounted in. */
  readonly metrics?: DnsMetrics;
  /**
   * `.mesos` queries in flight at most (default 1024): slots of their own, so that a flood of
   * outside names towards dead upstreams (which fills the server's `maxConcurrent`) never starves
   * `.mesos`, nor the reverse.
   */
  readonly maxMesosInFlight?: number;
}

/** The handler to mount at `.` in a DnsServer for a dcos-dns node. */
export function createDcosDnsRouter(opts: DcosDnsRouterOptions): DnsHandler {
  const allow = opts.allow ?? new AllowList();
  const cache = opts.cache === false ? undefined : (opts.cache ?? new ForwardCache());
  const clusterId = opts.clusterId?.toLowerCase();
  const fz = Object.entries(opts.forwardZones ?? {}).map(([z, ups]) => [fqdn(z), ups] as const);
  const fzNames = fz.map(([z]) => z);
  const common = {
    allow,
    timeoutMs: opts.timeoutMs ?? 5000,
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  };
  const mesosList =
    typeof opts.mesosResolvers === 'function'
      ? opts.mesosResolvers
      : () => (opts.mesosResolvers ?? []) as readonly Upstream[];
  const mesos = createDcosForwarder({
    ...common,
    upstreams: mesosList,
    zone: 'mesos.',
    limit: new InFlightLimit(opts.maxMesosInFlight ?? 1024),
  });
  const forwarders = new Map(
    fz.map(([z, ups]) => [
      z,
      createDcosForwarder({ ...common, upstreams: ups, zone: z, ...(cache ? { cache } : {}) }),
    ]),
  );
  let defaults: readonly Upstream[] | undefined;
  const upstreamList =
    opts.upstreams === undefined
      ? () => (defaults ??= readResolvConf())
      : typeof opts.upstreams === 'function'
        ? opts.upstreams
        : () => opts.upstreams as readonly Upstream[];
  const upstream = createDcosForwarder({
    ...common,
    upstreams: upstreamList,
    zone: '.',
    ...(cache ? { cache } : {}),
  });

  const routes = new Map<string, DcosRoute>();
  return (bytes, q, ctx) => {
    let route = routes.get(q.lname);
    if (!route) {
      route = routeDcosDns(q.lname, clusterId, fzNames);
      if (routes.size >= 10_000) routes.clear();
      routes.set(q.lname, route);
    }
    // Metric label: internal zone names come from the query, so unknown ones share one label
    // (a stream of random names must not create unbounded label values).
    ctx.zone = route.kind === 'internal' && !opts.zones.hasZone(route.zone) ? 'unknown.' : route.zone;
    switch (route.kind) {
      case 'internal': {
        if (!route.rename) return opts.zones.answer(q, ctx);
        const { internal, external } = route.rename;
        const lookup = q.lname.slice(0, q.lname.length - external.length) + internal;
        return opts.zones.answer(q, ctx, lookup, route.rename);
      }
      case 'mesos':
        if (mesosList().length === 0) {
          metricsFor(opts, ctx).forwardFailure('mesos.');
          return replyFor(q, RCODE.SERVFAIL);
        }
        return mesos(bytes, q, ctx);
      case 'forward':
        return forwarders.get(route.zone)!(bytes, q, ctx);
      case 'upstream':
        return upstream(bytes, q, ctx);
    }
  };
}

function readResolvConf(): Upstream[] {
  try {
    return upstreamsFromResolvConf(readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return [];
  }
}
