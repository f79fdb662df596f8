// Runs the overlay agent with its HTTP endpoint (GET /overlay-agent/overlay, specs/overlay.md §4.7),
// health and Prometheus metrics.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { MAX_LISTED, Rejections } from '../../reconcile/index.js';
import { HttpStore, type Store } from '../../store/index.js';
import { plainClient, tlsClient, type TlsFiles } from '../../pki/index.js';
import { OverlayAgent, type AgentOptions } from './agent.js';

export interface AgentServerOptions extends Omit<
  AgentOptions,
  'store' | 'log' | 'onApplied' | 'client' | 'rejections'
> {
  /** This node's agent certificate: registration and the store over https, to masters only.
   *  Without it, plain HTTP (`--insecure`). The agent's own read-only endpoint stays plain. */
  readonly tls?: TlsFiles;
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  /** Default: the master's store over HTTP. */
  readonly store?: Store;
  /** Further node roles (DNS, L4LB) sharing the store, HTTP endpoint and metrics. */
  readonly roles?: readonly AgentRole[];
}

export interface AgentRoleContext {
  readonly app: FastifyInstance;
  readonly registry: Registry;
  readonly store: Store;
  readonly log: Logger;
  /** The node's one record of refused inputs (served at /rejections, published for dcnet status). */
  readonly rejections: Rejections;
  /** Adds `name: report()` to the agent's /health document (e.g. the resolv.conf mode). */
  readonly addHealth: (name: string, report: () => unknown) => void;
  /** Publishes where the node's resolv.conf points (shown by dcnet status). */
  readonly setResolvConfMode: (mode: 'local' | 'upstream' | 'unmanaged') => void;
}

/** Started before the HTTP endpoint listens (so it can add routes); closed before the store. */
export type AgentRole = (ctx: AgentRoleContext) => Promise<{ close(): Promise<void> }>;

export interface AgentServer {
  readonly url: string;
  readonly agent: OverlayAgent;
  close(): Promise<void>;
}

function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept.split(',').some((part) => {
    const type = part.split(';')[0]!.trim().toLowerCase();
    return type === '*/*' || type === 'application/*' || type === 'application/json';
  });
}

export async function startAgentServer(opts: AgentServerOptions): Promise<AgentServer> {
  const log = opts.logger;
  const registry = new Registry();
  const applies = new Counter({
    name: 'dcnet_overlay_dataplane_applies_total',
    help: 'Data plane reconciliations that changed something',
    registers: [registry],
  });
  const changes = new Counter({
    name: 'dcnet_overlay_dataplane_changes_total',
    help: 'iproute2 commands applied by reconciliations',
    registers: [registry],
  });
  const seconds = new Histogram({
    name: 'dcnet_overlay_dataplane_reconcile_seconds',
    help: 'Time of one reconciliation (read back, diff, apply)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // One client for registration and the store: connections to the master are shared.
  const client = opts.tls ? tlsClient(opts.tls, { requirePeerRole: 'master' }) : plainClient;
  const store =
    opts.store ??
    new HttpStore(opts.masterUrls, {
      client,
      onForeignCluster: (err) => log.error({ err: err.message }, 'refused a master of another store'),
    });
  const rejections = new Rejections(log, registry);
  const agent = new OverlayAgent({
    ...opts,
    client,
    store,
    log,
    rejections,
    onApplied: (result, ms) => {
      seconds.observe(ms / 1000);
      if (result.changes > 0) {
        applies.inc();
        changes.inc(result.changes);
      }
    },
  });
  new Gauge({
    name: 'dcnet_overlay_peers',
    help: 'Nodes whose overlay info this node sees in the store (itself included)',
    registers: [registry],
    collect() {
      this.set(agent.peerCount);
    },
  });
  new Gauge({
    name: 'dcnet_overlay_dataplane_refused',
    help: 'Data plane entries the kernel refused in the last reconciliation (the rest was applied)',
    registers: [registry],
    collect() {
      this.set(agent.dataplaneFailures.length);
    },
  });
  new Gauge({
    name: 'dcnet_overlay_registered',
    help: '1 once the master has answered this node',
    registers: [registry],
    collect() {
      this.set(agent.registered ? 1 : 0);
    },
  });

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });
  app.get('/overlay-agent/overlay', (request, reply) => {
    if (!acceptsJson(request.headers.accept)) {
      return reply.code(415).send('Client needs to support application/json');
    }
    const json = agent.agentInfoJson();
    const cb = (request.query as { jsonp?: string }).jsonp;
    if (cb !== undefined && /^[A-Za-z_$][\w$.]*$/.test(cb))
      return reply.type('text/javascript').send(`${cb}(${json});`);
    return reply.type('application/json').send(json);
  });
  const healthParts = new Map<string, () => unknown>();
  app.get('/health', (_request, reply) => {
    const error = agent.dataplaneError;
    const refused = agent.dataplaneFailures;
    // Refused entries and rejected inputs are reported, not fatal: the rest is programmed.
    return reply.code(agent.registered && !error ? 200 : 503).send({
      registered: agent.registered,
      peers: agent.peerCount,
      ...(error !== undefined && { dataplane_error: error }),
      ...(refused.length > 0 && { dataplane_refused: refused }),
      ...(rejections.size > 0 && { rejected_inputs: rejections.size }),
      ...Object.fromEntries([...healthParts].map(([name, report]) => [name, report()])),
    });
  });
  // What this node refused (store entries, master answers) and what its kernel refused.
  app.get('/rejections', (_request, reply) =>
    reply.type('application/json').send(JSON.stringify(agent.status(MAX_LISTED))),
  );
  app.get('/metrics', async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
  const started: Array<{ close(): Promise<void> }> = [];
  const closeRoles = async (): Promise<void> => {
    for (const r of started.reverse())
      await r.close().catch((err: unknown) => log.error({ err }, 'role close failed'));
  };
  let url: string;
  try {
    for (const role of opts.roles ?? [])
      started.push(
        await role({
          app,
          registry,
          store,
          log,
          rejections,
          addHealth: (name, report) => void healthParts.set(name, report),
          setResolvConfMode: (mode) => agent.setResolvConfMode(mode),
        }),
      );
    url = await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await closeRoles();
    await app.close();
    if (!opts.store) await store.close();
    await client.close();
    throw err;
  }
  agent.start();
  log.info({ url, masters: opts.masterUrls, ip: opts.ip, tls: client.secure }, 'overlay agent listening');
  return {
    url,
    agent,
    async close() {
      await agent.stop();
      await closeRoles();
      await app.close();
      if (!opts.store) await store.close();
      await client.close();
    },
  };
}
