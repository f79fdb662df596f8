// A Mesos-DNS server from a config.json: the state poller feeds the record service; after the
// first good state (as upstream: nothing listens before) the HTTP API and the DNS server start,
// the latter answering the Mesos domain from the records and forwarding other names per
// `externalOn` / `resolvers` / `zoneResolvers`. Used by `dcnet mesos-dns`; embeddable.
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { readFile } from 'node:fs/promises';
import {
  AuthError,
  basicAuth,
  MesosStatePoller,
  parseServiceAccount,
  serviceAccountAuth,
  type HttpAuth,
} from '../../cluster/index.js';
import {
  MesosResponder,
  dnsMetrics,
  type ClientRateLimitOptions,
  mesosDnsZones,
  parseUpstream,
  startDnsServer,
  type RunningDnsServer,
} from '../server/index.js';
import type { MesosDnsConfig } from './config.js';
import { MAX_PARAM_LENGTH, registerMesosDnsRoutes } from './http-api.js';
import { MesosDnsService, pollInto } from './service.js';

export interface MesosDnsOptions {
  readonly config: MesosDnsConfig;
  readonly log: Logger;
  /** Shown by /v1/version. */
  readonly version: string;
  readonly registry?: Registry;
  /** Per-client query rate on the DNS listener (default none: its clients are whole nodes). */
  readonly clientRateLimit?: ClientRateLimitOptions;
  /** Credentials for Mesos: from `mesosDnsAuth(config)` ("basic" or "iam"), or the caller's own. */
  readonly auth?: HttpAuth;
}

/** The credentials a Mesos-DNS config asks for: `MesosCredentials` for "basic", the service
 *  account in `IAMConfigFile` for "iam" (upstream's format: uid, private_key, login_endpoint). */
export async function mesosDnsAuth(c: MesosDnsConfig): Promise<HttpAuth | undefined> {
  if (c.MesosAuthentication === 'basic')
    return basicAuth(c.MesosCredentials.Principal, c.MesosCredentials.Secret);
  if (c.MesosAuthentication === 'iam') {
    let text: string;
    try {
      text = await readFile(c.IAMConfigFile, 'utf8');
    } catch (err) {
      throw new AuthError(`IAMConfigFile: ${(err as Error).message}`);
    }
    return serviceAccountAuth(parseServiceAccount(text, `IAMConfigFile ${c.IAMConfigFile}`));
  }
  return undefined;
}

export interface RunningMesosDns {
  readonly service: MesosDnsService;
  /** Resolves once the first state is loaded and the listeners are up. */
  readonly ready: Promise<{ httpUrl?: string; dnsAddresses?: string[] }>;
  close(): Promise<void>;
}

const hostPort = (h: string, p: number): string => (h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`);

export function startMesosDns(o: MesosDnsOptions): RunningMesosDns {
  const { config: c, log } = o;
  const service = new MesosDnsService({ config: c, log });
  const poller = new MesosStatePoller({
    masters: c.Masters ?? [],
    refreshMs: c.RefreshSeconds * 1000,
    timeoutMs: c.StateTimeoutSeconds * 1000,
    log,
    scheme: c.MesosHTTPSOn ? 'https' : 'http',
    ...(o.auth && { auth: o.auth }),
  });
  const responder = new MesosResponder({
    domain: c.Domain,
    soaMname: c.SOAMname,
    soaRname: c.SOARname,
    soaRefresh: c.SOARefresh,
    soaRetry: c.SOARetry,
    soaExpire: c.SOAExpire,
    ttl: c.TTL,
    srvWeight: c.SRVRecordDefaultWeight,
    recurseOn: c.RecurseOn,
    setTruncateBit: c.SetTruncateBit,
  });
  service.onRecords((s) => responder.setRecords(s.records, s.serial));
  const polling = pollInto(service, poller, c.RefreshSeconds * 1000);
  log.info({ masters: c.Masters, refreshSeconds: c.RefreshSeconds }, 'waiting for the first Mesos state');

  let app: ReturnType<typeof Fastify> | undefined;
  let dns: RunningDnsServer | undefined;
  let closed = false;
  const ready = (async () => {
    if (!service.current()) {
      await new Promise<void>((resolve) => {
        const off = service.onRecords(() => {
          off();
          resolve();
        });
      });
    }
    if (closed) return {};
    const out: { httpUrl?: string; dnsAddresses?: string[] } = {};
    if (c.DnsOn) {
      const metrics = dnsMetrics(o.registry);
      const upstreams = (list: readonly string[]) => list.map((u) => parseUpstream(u));
      const zones = mesosDnsZones({
        responder,
        externalOn: c.ExternalOn,
        resolvers: upstreams(c.Resolvers),
        zoneResolvers: Object.fromEntries(
          Object.entries(c.ZoneResolvers).map(([zone, list]) => [zone.toLowerCase(), upstreams(list)]),
        ),
        timeoutMs: c.Timeout * 1000,
        setTruncateBit: c.SetTruncateBit,
        metrics,
      });
      dns = await startDnsServer({
        listen: [{ host: c.Listener, port: c.Port }],
        zones,
        metrics,
        ...(o.clientRateLimit && { clientRateLimit: o.clientRateLimit }),
        logger: log,
      });
      out.dnsAddresses = dns.addresses.map((a) => hostPort(a.host, a.port));
      log.info(
        { listen: out.dnsAddresses, domain: c.Domain, resolvers: c.ExternalOn ? c.Resolvers : [] },
        'mesos-dns DNS listening',
      );
    }
    if (c.HttpOn) {
      app = Fastify({
        loggerInstance: log as FastifyBaseLogger,
        logController: new LogController({ disableRequestLogging: true }),
        forceCloseConnections: true,
        maxParamLength: MAX_PARAM_LENGTH,
      });
      registerMesosDnsRoutes(app, service, c, { version: o.version });
      await app.listen({ host: c.HTTPListener, port: c.HttpPort });
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : c.HttpPort;
      out.httpUrl = `http://${hostPort(c.HTTPListener, port)}`;
      log.info({ url: out.httpUrl }, 'mesos-dns HTTP API listening');
    }
    return out;
  })();
  return {
    service,
    ready,
    async close() {
      closed = true;
      await polling.stop();
      await Promise.all([dns?.close(), app?.close()]);
    },
  };
}
