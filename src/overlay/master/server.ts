// Runs the overlay master: config → store → recovery → HTTP. With the embedded store (data dir)
// one master serves alone; with `etcd://…` several masters share the store, elect a leader and
// forward to it (ha.ts).
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { DcnetConfig } from '../../config/index.js';
import {
  installAuth,
  plainClient,
  serverTlsOptions,
  tlsClient,
  describeIdentity,
  type AuthGuard,
  type ControlClient,
  type TlsFiles,
} from '../../pki/index.js';
import {
  EmbeddedStore,
  EtcdStore,
  parseStoreUrl,
  StoreError,
  registerStoreRoutes,
  type Compare,
  type Store,
  type StoreServerOptions,
} from '../../store/index.js';
import { OverlayMaster } from './master.js';
import { createMasterMetrics, type MasterMetrics } from './metrics.js';
import { registerMasterRoutes } from './api.js';
import { clusterStatus, HaMaster, type MasterIdentity } from './ha.js';
import { CONTROL_PLANE_ROUTES, StoreGuard } from './access.js';

export interface MasterServerOptions {
  readonly config: DcnetConfig;
  /** Embedded store directory; omit for a memory-only master (tests, demo). */
  readonly dataDir?: string;
  /** `etcd://HOST:PORT[,HOST:PORT…]`: highly available masters on etcd. */
  readonly storeUrl?: string;
  /** Key prefix in etcd (several clusters in one etcd). */
  readonly storePrefix?: string;
  /** URL the other masters reach this one at (HA; default from host and port). */
  readonly advertise?: string;
  readonly leaderTtlS?: number;
  /** An already-open store instead of the embedded one. */
  readonly store?: Store;
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  /** This master's TLS directory contents: HTTPS with client certificates and the access table
   *  (access.ts). Without it the API is plain HTTP and unauthenticated (`--insecure`). */
  readonly tls?: TlsFiles;
  /** Client TLS for an `etcds://` store with a PKI of its own (default: `tls`). */
  readonly storeTls?: TlsFiles;
  /** Called when the store failed for good (default: log and exit 1, so a supervisor restarts us). */
  readonly onFatal?: (err: Error) => void;
}

export interface MasterServer {
  readonly url: string;
  /** The allocating master while this process leads (always, without HA). */
  master(): OverlayMaster | undefined;
  /** The store the masters share (other roles publish through it: DNS zones, VIP tables). */
  readonly store: Store;
  /** While this master leads: the compares that fence its writes; undefined while it follows. */
  leading(): { readonly fence: readonly Compare[] } | undefined;
  /** The request guard (undefined without TLS). */
  readonly auth: AuthGuard | undefined;
  close(): Promise<void>;
}

interface ControlApp {
  readonly app: FastifyInstance;
  readonly auth: AuthGuard | undefined;
  /** How this master calls other masters (followers forward to the leader). */
  readonly peers: ControlClient;
}

function newApp(log: Logger, registry: MasterMetrics['registry'], tls: TlsFiles | undefined): ControlApp {
  // Request logs off: 4,000 agents registering would drown the log; errors are still logged.
  const common = {
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  };
  if (!tls) {
    log.warn(
      'control plane on plain HTTP without authentication (--insecure): anyone who reaches this port can register agents and write the store',
    );
    return { app: Fastify(common), auth: undefined, peers: plainClient };
  }
  // An https server is a FastifyInstance like any other to the routes registered on it.
  const app = Fastify({ ...common, https: serverTlsOptions(tls) }) as unknown as FastifyInstance;
  // Before any route, so that every route is seen (and those without a rule are reported).
  const auth = installAuth(app, { rules: CONTROL_PLANE_ROUTES, log, registry });
  app.addHook('onReady', async () => {
    for (const r of auth.uncovered())
      log.warn({ method: r.method, url: r.url }, 'route has no access rule: open to masters only');
  });
  return { app, auth, peers: tlsClient(tls, { requirePeerRole: 'master' }) };
}

/** With TLS, the store API checks every call against the access table. */
function storeOptions(store: Store, auth: AuthGuard | undefined): StoreServerOptions {
  return auth ? { access: new StoreGuard(store, auth) } : {};
}

export async function startMasterServer(opts: MasterServerOptions): Promise<MasterServer> {
  const log = opts.logger;
  for (const key of opts.config.ignoredKeys) log.info({ key }, 'config key not used by dcnet');
  const metrics = createMasterMetrics();
  const fatal =
    opts.onFatal ??
    ((err: Error) => {
      log.fatal({ err }, 'store failed; exiting so that a supervisor restarts the master from durable state');
      process.exit(1);
    });
  // The log's own failure report and the request that hit it may both get here: act once.
  let fatalSeen = false;
  const onFatal = (err: Error): void => {
    if (fatalSeen) return;
    fatalSeen = true;
    fatal(err);
  };
  const events = { ...metrics.events, onFatal };

  if (opts.storeUrl !== undefined) {
    const { endpoints, tls: etcdTls } = parseStoreUrl(opts.storeUrl);
    // etcds://: an etcd with its own PKI (--etcd-tls-dir), else the master's own certificate
    // (EKU clientAuth) and the cluster CA are etcd's client TLS.
    const etcdFiles = opts.storeTls ?? opts.tls;
    if (etcdTls && !etcdFiles)
      throw new StoreError(
        'invalid',
        `${opts.storeUrl}: etcds:// needs a client certificate (--etcd-tls-dir, or the master's --tls-dir)`,
      );
    const store = new EtcdStore({
      endpoints,
      ...(opts.storePrefix && { prefix: opts.storePrefix }),
      ...(etcdTls && etcdFiles && { tls: { ca: etcdFiles.ca, cert: etcdFiles.cert, key: etcdFiles.key } }),
    });
    const { app, auth, peers } = newApp(log, metrics.registry, opts.tls);
    // The routes exist before the HA master does: it needs the bound address to advertise.
    let ha: HaMaster | undefined;
    registerMasterRoutes(
      app,
      {
        current: () => ha?.current(),
        forward: (request, reply) => ha!.forward(request, reply),
      },
      metrics,
    );
    registerStoreRoutes(app, store, storeOptions(store, auth));
    app.get('/overlay-master/status', async () => ha!.status());
    let url: string;
    try {
      url = await app.listen({ host: opts.host, port: opts.port, backlog: 4096 });
    } catch (err) {
      await peers.close();
      await store.close();
      throw err;
    }
    const advertise = opts.advertise ?? url;
    ha = new HaMaster({
      config: opts.config.network,
      allocationGcSeconds: opts.config.allocationGcSeconds,
      store,
      self: { id: advertise, url: advertise },
      log,
      events,
      peers,
      ...(auth && {
        caller: (request) => {
          const id = auth.identity(request);
          return id && describeIdentity(id);
        },
      }),
      ...(opts.leaderTtlS !== undefined && { leaderTtlS: opts.leaderTtlS }),
      onLeaderMaster: (m) => m && metrics.attach(m),
    });
    ha.start();
    log.info(
      { url, advertise, store: opts.storeUrl, ha: true, tls: auth !== undefined },
      'overlay master listening',
    );
    return {
      url,
      master: () => (ha?.isLeader ? (ha.current() as OverlayMaster) : undefined),
      store,
      leading: () => (ha?.isLeader ? { fence: ha.fence() } : undefined),
      auth,
      async close() {
        await ha?.stop();
        await app.close();
        await peers.close();
        await store.close();
      },
    };
  }

  let store = opts.store;
  let storeFailure: Error | undefined;
  if (!store) {
    // A failed log write (disk full, I/O error) is fatal, as in etcd: nothing is acknowledged
    // that is not durable, /health reports it, and the process exits for its supervisor.
    const failStore = (err: Error): void => {
      storeFailure = err;
      onFatal(err);
    };
    const embedded = await EmbeddedStore.open({
      ...(opts.dataDir !== undefined && { dataDir: opts.dataDir }),
      onFatal: failStore,
    });
    const r = embedded.recovery;
    if (r.tornBytes > 0)
      log.warn({ bytes: r.tornBytes }, 'cut a torn record from the end of the log (crash during a write)');
    log.info(
      {
        dataDir: opts.dataDir ?? '(memory)',
        revision: r.revision,
        keys: r.keys,
        replayed: r.replayedRecords,
        clusterId: embedded.identity.clusterId,
        memberId: embedded.identity.memberId,
        identityCreated: r.identityCreated,
      },
      'store opened',
    );
    store = embedded;
  }
  let master: OverlayMaster;
  try {
    master = await OverlayMaster.start(opts.config.network, store, log, events, undefined, {
      allocationGcSeconds: opts.config.allocationGcSeconds,
    });
  } catch (err) {
    if (!opts.store) await store.close();
    throw err;
  }
  metrics.attach(master);
  const { app, auth, peers } = newApp(log, metrics.registry, opts.tls);
  registerMasterRoutes(app, { current: () => master, failure: () => storeFailure }, metrics);
  // Agents reach the store through the master: publication of their overlay info and watches.
  registerStoreRoutes(app, store, storeOptions(store, auth));
  const single = store;
  let self: MasterIdentity = { id: '', url: '' };
  app.get('/overlay-master/status', async () => clusterStatus(single, { ...self, leader: true }, self));
  let address: string;
  try {
    // A deep accept queue: thousands of agents may (re-)register at once after a master restart.
    address = await app.listen({ host: opts.host, port: opts.port, backlog: 4096 });
  } catch (err) {
    if (!opts.store) await store.close();
    throw err;
  }
  self = { id: address, url: address };
  await peers.close(); // one master: no peers to call
  log.info({ url: address, agents: master.agentCount, tls: auth !== undefined }, 'overlay master listening');
  return {
    url: address,
    master: () => master,
    store: single,
    leading: () => ({ fence: [] }),
    auth,
    async close() {
      master.stop();
      await app.close();
      if (!opts.store) await store.close();
    },
  };
}
