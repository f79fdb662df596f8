// Runs the overlay master: config → store (embedded, durable in the data dir) → recovery → HTTP.
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';
import type { DcnetConfig } from '../../config/index.js';
import { EmbeddedStore, registerStoreRoutes, type Store } from '../../store/index.js';
import { OverlayMaster } from './master.js';
import { createMasterMetrics } from './metrics.js';
import { registerMasterRoutes } from './api.js';

export interface MasterServerOptions {
  readonly config: DcnetConfig;
  /** Embedded store directory; omit for a memory-only master (tests, demo). */
  readonly dataDir?: string;
  /** An already-open store instead of the embedded one. */
  readonly store?: Store;
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  /** Called when the store failed for good (default: log and exit 1, so a supervisor restarts us). */
  readonly onFatal?: (err: Error) => void;
}

export interface MasterServer {
  readonly url: string;
  readonly master: OverlayMaster;
  close(): Promise<void>;
}

export async function startMasterServer(opts: MasterServerOptions): Promise<MasterServer> {
  const log = opts.logger;
  for (const key of opts.config.ignoredKeys) log.info({ key }, 'config key not used by dcnet');
  let store = opts.store;
  if (!store) {
    const embedded = await EmbeddedStore.open(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {});
    const r = embedded.recovery;
    if (r.tornBytes > 0)
      log.warn({ bytes: r.tornBytes }, 'cut a torn record from the end of the log (crash during a write)');
    log.info(
      {
        dataDir: opts.dataDir ?? '(memory)',
        revision: r.revision,
        keys: r.keys,
        replayed: r.replayedRecords,
      },
      'store opened',
    );
    store = embedded;
  }
  const metrics = createMasterMetrics();
  const onFatal =
    opts.onFatal ??
    ((err: Error) => {
      log.fatal({ err }, 'store failed; exiting so that a supervisor restarts the master from durable state');
      process.exit(1);
    });
  let master: OverlayMaster;
  try {
    master = await OverlayMaster.start(opts.config.network, store, log, { ...metrics.events, onFatal });
  } catch (err) {
    if (!opts.store) await store.close();
    throw err;
  }
  metrics.attach(master);
  // Request logs off: 4,000 agents registering would drown the log; errors are still logged.
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });
  registerMasterRoutes(app, master, metrics);
  // Agents reach the store through the master: publication of their overlay info and watches.
  registerStoreRoutes(app, store);
  let address: string;
  try {
    // A deep accept queue: thousands of agents may (re-)register at once after a master restart.
    address = await app.listen({ host: opts.host, port: opts.port, backlog: 4096 });
  } catch (err) {
    if (!opts.store) await store.close();
    throw err;
  }
  log.info({ url: address, agents: master.agentCount }, 'overlay master listening');
  return {
    url: address,
    master,
    async close() {
      await app.close();
      if (!opts.store) await store.close();
    },
  };
}
