// `dcnet master`: the overlay master on one node.
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { startMasterServer } from '../overlay/index.js';
import { createLogger } from './logger.js';
import { parseListen } from './listen.js';
import { UsageError } from './usage-error.js';
import { parseEtcdUrl } from '../store/index.js';
import { MesosStatePoller, parseMasterEntry } from '../cluster/index.js';
import { L4lbPublisher } from '../l4lb/index.js';

export function addMasterCommand(program: Command): void {
  program
    .command('master')
    .description('run the overlay master: allocates agent subnets, VTEP IPs and MACs, durably')
    .option('--config <file>', 'YAML config (DC/OS config.yaml keys); default: the DC/OS defaults')
    .option('--data-dir <dir>', 'where the durable state lives (embedded store)', '/var/lib/dcnet/master')
    .option(
      '--store <url>',
      'etcd://HOST:PORT[,HOST:PORT…]: highly available masters sharing etcd (instead of --data-dir)',
    )
    .option('--store-prefix <prefix>', 'key prefix in etcd', 'dcnet/')
    .option(
      '--advertise <url>',
      'URL the other masters reach this one at (with --store; default from --listen)',
    )
    .option('--listen <host:port>', 'HTTP API address', '127.0.0.1:5050')
    .option(
      '--mesos <host:port[,…]>',
      'Mesos masters to poll for /master/state: the leading dcnet master derives the VIP table from it',
    )
    .option('--mesos-refresh <s>', 'how often Mesos state is polled', '1')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .action(
      async (opts: {
        config?: string;
        dataDir: string;
        store?: string;
        storePrefix: string;
        advertise?: string;
        listen: string;
        mesos?: string;
        mesosRefresh: string;
        logLevel: string;
      }) => {
        const logger = createLogger(opts.logLevel, 'dcnet-master');
        const { host, port } = parseListen(opts.listen);
        const config = await loadConfig(opts.config);
        const mesos = opts.mesos?.split(',').filter((m) => m.trim() !== '') ?? [];
        for (const m of mesos) {
          try {
            parseMasterEntry(m);
          } catch (err) {
            throw new UsageError(`--mesos: ${(err as Error).message}`);
          }
        }
        const refreshS = Number(opts.mesosRefresh);
        if (!Number.isFinite(refreshS) || refreshS < 0.05)
          throw new UsageError(`--mesos-refresh: "${opts.mesosRefresh}" must be a number of seconds ≥ 0.05`);
        if (opts.store !== undefined) {
          try {
            parseEtcdUrl(opts.store);
          } catch (err) {
            throw new UsageError(`--store: ${(err as Error).message}`);
          }
          if ((host === '0.0.0.0' || host === '::') && opts.advertise === undefined) {
            throw new UsageError(
              '--advertise: required when --listen is a wildcard address (other masters must reach this one)',
            );
          }
        }
        const server = await startMasterServer({
          config,
          host,
          port,
          logger,
          ...(opts.store !== undefined
            ? {
                storeUrl: opts.store,
                storePrefix: opts.storePrefix,
                ...(opts.advertise !== undefined && { advertise: opts.advertise }),
              }
            : { dataDir: opts.dataDir }),
        });
        let poller: MesosStatePoller | undefined;
        if (mesos.length > 0) {
          // Every master polls (a follower is ready to take over at once); only the leader writes.
          const publisher = new L4lbPublisher({
            store: server.store,
            log: logger.child({ part: 'l4lb' }),
            isLeader: () => server.master() !== undefined,
            derive: { enableIpv6: config.enableIpv6 },
          });
          poller = new MesosStatePoller({
            masters: mesos,
            refreshMs: refreshS * 1000,
            timeoutMs: Math.max(2000, refreshS * 2000),
            log: logger.child({ part: 'mesos' }),
          });
          poller.onState((state) => void publisher.update(state));
          poller.start();
        }
        const stop = (signal: string): void => {
          logger.info({ signal }, 'stopping');
          void poller?.stop();
          server.close().then(
            () => process.exit(0),
            (err: unknown) => {
              logger.error({ err }, 'error while stopping');
              process.exit(1);
            },
          );
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      },
    );
}
