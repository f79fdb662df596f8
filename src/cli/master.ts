// `dcnet master`: the overlay master on one node.
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { startMasterServer } from '../overlay/index.js';
import { createLogger } from './logger.js';
import { parseListen } from './listen.js';
import { UsageError } from './usage-error.js';
import { parseStoreUrl } from '../store/index.js';
import { loadTlsDir, type TlsFiles } from '../pki/index.js';
import { parseMasterEntry } from '../cluster/index.js';
import { masterMesosDnsConfig, startMasterRoles } from './master-roles.js';
import {
  loadMesosDnsConfig,
  mesosDnsAuth,
  unsupportedSettings,
  type MesosDnsConfig,
} from '../dns/mesos/index.js';
import { loadCredentials, type HttpAuth } from '../cluster/index.js';
import { ConfigError } from '../config/index.js';
import { addTlsOptions, controlPlaneTls, type TlsCliOptions } from './tls.js';

export function addMasterCommand(program: Command): void {
  const cmd = program
    .command('master')
    .description('run the overlay master: allocates agent subnets, VTEP IPs and MACs, durably')
    .option('--config <file>', 'YAML config (DC/OS config.yaml keys); default: the DC/OS defaults')
    .option('--data-dir <dir>', 'where the durable state lives (embedded store)', '/var/lib/dcnet/master')
    .option(
      '--store <url>',
      'etcd://HOST:PORT[,…] or etcds://… (TLS): highly available masters sharing etcd (instead of --data-dir)',
    )
    .option('--store-prefix <prefix>', 'key prefix in etcd', 'dcnet/')
    .option(
      '--advertise <url>',
      'URL the other masters reach this one at (with --store; default from --listen)',
    )
    .option('--listen <host:port>', 'HTTP API address', '127.0.0.1:5050')
    .option(
      '--mesos <host:port[,host:port…]>',
      'Mesos masters to poll for tasks (VIP table, DNS zones); the leader is followed',
    )
    .option('--mesos-refresh <s>', 'how often the Mesos state is polled', '2')
    .option(
      '--mesos-dns-config <file>',
      'Mesos-DNS config.json for the built-in Mesos-DNS (default: .mesos on <listen host>:61053, HTTP :8123)',
    )
    .option('--no-mesos-dns', 'do not run the built-in Mesos-DNS')
    .option(
      '--mesos-credentials <file>',
      'credentials for Mesos: {"basic":{"principal","secret"}} or a DC/OS service account (uid, private_key, login_endpoint)',
    )
    .option(
      '--etcd-tls-dir <dir>',
      "with --store etcds://: ca.pem, cert.pem, key.pem for an etcd with its own CA (default: --tls-dir's)",
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info');
  addTlsOptions(cmd).action(
    async (
      opts: TlsCliOptions & {
        config?: string;
        dataDir: string;
        store?: string;
        storePrefix: string;
        advertise?: string;
        listen: string;
        mesos?: string;
        mesosRefresh: string;
        mesosDnsConfig?: string;
        mesosDns: boolean;
        etcdTlsDir?: string;
        mesosCredentials?: string;
        logLevel: string;
      },
    ) => {
      const logger = createLogger(opts.logLevel, 'dcnet-master');
      const { host, port } = parseListen(opts.listen);
      let advertise = opts.advertise;
      if (advertise !== undefined) {
        try {
          advertise = new URL(advertise).origin;
        } catch {
          throw new UsageError(`--advertise: "${advertise}" is not a URL`);
        }
      }
      const config = await loadConfig(opts.config);
      const mesos = opts.mesos
        ?.split(',')
        .map((m) => m.trim())
        .filter(Boolean);
      for (const m of mesos ?? []) {
        try {
          parseMasterEntry(m);
        } catch (err) {
          throw new UsageError(`--mesos: ${(err as Error).message}`);
        }
      }
      const refreshS = Number(opts.mesosRefresh);
      if (!Number.isFinite(refreshS) || refreshS < 0.1)
        throw new UsageError(`--mesos-refresh: "${opts.mesosRefresh}" must be a number of seconds ≥ 0.1`);
      let storeTls: TlsFiles | undefined;
      if (opts.etcdTlsDir !== undefined) {
        if (opts.store === undefined || !parseStoreUrl(opts.store).tls)
          throw new UsageError('--etcd-tls-dir: only with --store etcds://…');
        storeTls = await loadTlsDir(opts.etcdTlsDir).catch((err: Error) => {
          throw new UsageError(`--etcd-tls-dir: ${err.message}`);
        });
      }
      if (opts.store !== undefined) {
        try {
          parseStoreUrl(opts.store);
        } catch (err) {
          throw new UsageError(`--store: ${(err as Error).message}`);
        }
        if ((host === '0.0.0.0' || host === '::') && opts.advertise === undefined) {
          throw new UsageError(
            '--advertise: required when --listen is a wildcard address (other masters must reach this one)',
          );
        }
      }
      const mesosAuth =
        opts.mesosCredentials === undefined
          ? undefined
          : await loadCredentials(opts.mesosCredentials).catch((err: Error) => {
              throw new UsageError(`--mesos-credentials: ${err.message}`);
            });
      let mesosDns: MesosDnsConfig | false = false;
      let ownMesosDnsAuth: HttpAuth | undefined;
      if (opts.mesosDns && opts.mesosDnsConfig !== undefined) {
        const loaded = await loadMesosDnsConfig(opts.mesosDnsConfig);
        const unsupported = unsupportedSettings(loaded.config);
        if (unsupported.length > 0) throw new ConfigError(unsupported);
        mesosDns = loaded.config;
        ownMesosDnsAuth = await mesosDnsAuth(loaded.config).catch((err: Error) => {
          throw new ConfigError([err.message]);
        });
      } else if (opts.mesosDns && mesos && mesos.length > 0) {
        mesosDns = masterMesosDnsConfig({ mesos, host, refreshS });
      }
      // Last of the checks: a config error is reported as such, whatever the TLS setup.
      const tls = await controlPlaneTls('dcnet master', opts, ['master'], logger);
      const server = await startMasterServer({
        config,
        host,
        port,
        logger,
        ...(tls.secure && { tls: tls.files }),
        ...(opts.store !== undefined
          ? {
              storeUrl: opts.store,
              storePrefix: opts.storePrefix,
              ...(storeTls && { storeTls }),
              ...(advertise !== undefined && { advertise }),
            }
          : { dataDir: opts.dataDir }),
      });
      const roles =
        mesos && mesos.length > 0
          ? startMasterRoles({
              server,
              log: logger,
              mesos,
              refreshMs: refreshS * 1000,
              mesosDns,
              enableIpv6: config.enableIpv6,
              l4lb: config.l4lb,
              network: config.network,
              ...(mesosAuth && { mesosAuth }),
              ...(ownMesosDnsAuth && { mesosDnsAuth: ownMesosDnsAuth }),
            })
          : undefined;
      const stop = (signal: string): void => {
        logger.info({ signal }, 'stopping');
        Promise.resolve(roles?.stop())
          .then(() => server.close())
          .then(
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
