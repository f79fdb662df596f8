// `dcnet lb`: the Marathon-LB-compatible layer-7 controller (HAProxy from Marathon apps).
import {
  basicAuth,
  loadCredentials,
  parseServiceAccount,
  serviceAccountAuth,
  type HttpAuth,
} from '../cluster/index.js';
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { HeadError, renderOnce, startLb, type LbOptions } from '../l7lb/index.js';
import { createLogger } from './logger.js';
import { parseListen } from './listen.js';
import { UsageError } from './usage-error.js';

interface LbCliOptions {
  marathon: string[];
  group: string[];
  haproxyConfig: string;
  haproxyBin: string;
  healthCheck?: boolean;
  strictMode?: boolean;
  sslCerts?: string;
  dontBindHttpHttps?: boolean;
  haproxyMap?: boolean;
  groupHttpsByVhost?: boolean;
  skipValidation?: boolean;
  minServPortIpPerTask: string;
  maxServPortIpPerTask: string;
  maxBackoff: string;
  archiveVersions: string;
  statsBind: string;
  apiListen: string;
  vanishEmpty?: boolean;
  keepHostPort?: boolean;
  runtimeApi: boolean;
  resyncInterval: string;
  templates: string;
  logLevel: string;
  dry?: boolean;
  sse?: boolean;
  adminTokenFile?: string;
  authCredentials?: string;
  dcosAuthCredentials?: string;
  marathonCredentials?: string;
  openSignals?: boolean;
  allowTemplateLabels?: boolean;
  haproxyUser: string;
  haproxyGroup?: string;
  haproxyChroot: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, ...v.split(',').filter(Boolean)];

function int(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name}: "${v}" is not an integer in ${min}..${max}`);
  return n;
}

export function addLbCommand(program: Command): void {
  program
    .command('lb')
    .description(
      'layer-7 load balancer: HAProxy configured from Marathon apps, Marathon-LB labels and templates',
    )
    .option('-m, --marathon <url>', 'Marathon URL (repeat or comma-separate for failover)', collect, [])
    .option('--group <name>', 'HAPROXY_GROUP(s) served; "*" = every app (repeatable, required)', collect, [])
    .option(
      '--haproxy-config <path>',
      'config file written and loaded (maps, socket and state live next to it)',
      '/var/lib/dcnet/lb/haproxy.cfg',
    )
    .option('--haproxy-bin <path>', 'HAProxy executable', 'haproxy')
    .option('--haproxy-user <name>', "HAProxy workers' user ('' = they stay root)", 'haproxy')
    .option('--haproxy-group <name>', "HAProxy workers' group (default: the user's name)")
    .option('--haproxy-chroot <dir>', "HAProxy workers' chroot ('' = none)", '/var/lib/haproxy')
    .option('-H, --health-check', 'only route to tasks Marathon reports healthy')
    .option('--strict-mode', 'expose a service port only with HAPROXY_{n}_ENABLED=true')
    .option(
      '--ssl-certs <list>',
      'certificates of the :443 frontend, comma-separated (default: a self-signed one)',
    )
    .option('--dont-bind-http-https', 'no shared :80/:443 frontends')
    .option('--haproxy-map', 'route vhosts and app ids through HAProxy map files')
    .option('--group-https-by-vhost', 'one TLS frontend per vhost behind an SNI splitter on :443')
    .option('--skip-validation', 'do not run haproxy -c before using a config')
    .option('--min-serv-port-ip-per-task <port>', 'auto service ports for IP-per-task apps: lowest', '10050')
    .option('--max-serv-port-ip-per-task <port>', 'auto service ports for IP-per-task apps: highest', '10100')
    .option('--max-backoff <s>', 'cap of the event-stream reconnect backoff', '300')
    .option('--archive-versions <n>', 'previous configs kept as <config>.1…N', '5')
    .option('--stats-bind <addr:port>', "HAProxy's stats/endpoint listener", '0.0.0.0:9090')
    .option(
      '--api-listen <host:port>',
      'controller API (endpoints, /metrics); HAProxy :9090 forwards to it',
      '127.0.0.1:9089',
    )
    .option(
      '--vanish-empty',
      'Marathon-LB behaviour: a service with no task disappears (default: it answers 503)',
    )
    .option(
      '--no-runtime-api',
      'reload HAProxy for every change (default: membership changes via the Runtime API)',
    )
    .option('--resync-interval <s>', 'full resync at least this often', '300')
    .option('--templates <dir>', 'directory of HAPROXY_<NAME> template files', 'templates')
    .option('-d, --dry', 'print the config for the current Marathon state and exit')
    .option('-s, --sse', 'accepted for Marathon-LB compatibility: the event stream is always used')
    .option(
      '--admin-token-file <file>',
      'require "Authorization: Bearer <token>" on /_mlb_signal/* (or env DCNET_LB_ADMIN_TOKEN)',
    )
    .option('--auth-credentials <user:password>', 'HTTP basic auth for Marathon (Marathon-LB)')
    .option(
      '--dcos-auth-credentials <json>',
      'DC/OS service account JSON for Marathon (Marathon-LB; env DCOS_SERVICE_ACCOUNT_CREDENTIAL)',
    )
    .option(
      '--marathon-credentials <file>',
      'credentials file: {"basic":{"principal","secret"}} or a DC/OS service account',
    )
    .option(
      '--open-signals',
      'without a token, let anyone reaching :9090 call /_mlb_signal/* (Marathon-LB did; default: refused)',
    )
    .option(
      '--allow-template-labels',
      'use HAPROXY_{n}_<TEMPLATE> app labels (raw HAProxy config from whoever deploys apps; default: such an app is left out)',
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .action(async (opts: LbCliOptions) => {
      if (opts.marathon.length === 0)
        throw new UsageError('--marathon: at least one Marathon URL is required');
      for (const u of opts.marathon) {
        if (!/^https?:\/\/[^/]+/.test(u)) throw new UsageError(`--marathon: "${u}" is not an http(s) URL`);
      }
      if (opts.group.length === 0)
        throw new UsageError('--group: at least one group is required ("*" for all)');
      const min = int('min-serv-port-ip-per-task', opts.minServPortIpPerTask, 0, 65535);
      const max = int('max-serv-port-ip-per-task', opts.maxServPortIpPerTask, 0, 65535);
      if (max < min)
        throw new UsageError('--max-serv-port-ip-per-task: must not be below --min-serv-port-ip-per-task');
      const api = parseListen(opts.apiListen);
      const logger = createLogger(opts.logLevel, 'dcnet-lb');
      let adminToken = process.env.DCNET_LB_ADMIN_TOKEN;
      if (opts.adminTokenFile !== undefined) {
        adminToken = (
          await readFile(opts.adminTokenFile, 'utf8').catch((e: Error) => {
            throw new UsageError(`--admin-token-file: ${e.message}`);
          })
        ).trim();
        if (!adminToken) throw new UsageError(`--admin-token-file: ${opts.adminTokenFile} is empty`);
      }
      let marathonAuth: HttpAuth | undefined;
      const serviceAccount = opts.dcosAuthCredentials ?? process.env.DCOS_SERVICE_ACCOUNT_CREDENTIAL;
      const given = [opts.authCredentials, serviceAccount, opts.marathonCredentials].filter(
        (x) => x !== undefined && x !== '',
      );
      if (given.length > 1)
        throw new UsageError(
          '--auth-credentials, --dcos-auth-credentials and --marathon-credentials: give one of them',
        );
      try {
        if (opts.authCredentials !== undefined) {
          const colon = opts.authCredentials.indexOf(':');
          if (colon < 1) throw new Error('must be user:password');
          marathonAuth = basicAuth(
            opts.authCredentials.slice(0, colon),
            opts.authCredentials.slice(colon + 1),
          );
        } else if (serviceAccount) {
          marathonAuth = serviceAccountAuth(parseServiceAccount(serviceAccount, 'the service account'));
        } else if (opts.marathonCredentials !== undefined) {
          marathonAuth = await loadCredentials(opts.marathonCredentials);
        }
      } catch (err) {
        throw new UsageError(`Marathon credentials: ${(err as Error).message}`);
      }
      let lb;
      try {
        const lbOptions: LbOptions = {
          marathon: opts.marathon,
          ...(marathonAuth && { marathonAuth }),
          groups: opts.group,
          configPath: opts.haproxyConfig,
          haproxyBin: opts.haproxyBin,
          log: logger,
          templateDir: opts.templates,
          ...(opts.sslCerts !== undefined && { sslCerts: opts.sslCerts.split(',').filter(Boolean) }),
          bindHttpHttps: !opts.dontBindHttpHttps,
          haproxyMap: opts.haproxyMap ?? false,
          groupHttpsByVhost: opts.groupHttpsByVhost ?? false,
          strictMode: opts.strictMode ?? false,
          healthCheck: opts.healthCheck ?? false,
          ipPerTaskPortRange: [min, max] as const,
          vanishEmpty: opts.vanishEmpty ?? false,
          keepHostPort: opts.keepHostPort ?? false,
          runtimeApi: opts.runtimeApi,
          skipValidation: opts.skipValidation ?? false,
          statsBind: opts.statsBind,
          api,
          resyncIntervalMs: int('resync-interval', opts.resyncInterval, 1, 86400) * 1000,
          archiveVersions: int('archive-versions', opts.archiveVersions, 0, 100),
          maxBackoffS: int('max-backoff', opts.maxBackoff, 1, 86400),
          ...(adminToken && { adminToken }),
          openSignals: opts.openSignals ?? false,
          allowTemplateLabels: opts.allowTemplateLabels ?? false,
          haproxyUser: opts.haproxyUser,
          ...(opts.haproxyGroup !== undefined && { haproxyGroup: opts.haproxyGroup }),
          haproxyChroot: opts.haproxyChroot,
        };
        if (opts.dry) {
          const r = await renderOnce(lbOptions);
          for (const e of r.errors)
            logger.warn({ app: e.appId, error: e.error }, 'app left out of the config');
          process.stdout.write(r.text);
          return;
        }
        lb = await startLb(lbOptions);
      } catch (err) {
        if (err instanceof HeadError) throw new UsageError(err.message);
        throw err;
      }
      logger.info(
        { marathon: opts.marathon, groups: opts.group, config: opts.haproxyConfig },
        'dcnet lb started',
      );
      process.on('SIGHUP', () => lb.controller.requestReset('SIGHUP'));
      process.on('SIGUSR1', () => lb.controller.requestReload());
      const stop = (signal: string): void => {
        logger.info({ signal }, 'stopping');
        lb.close().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err }, 'error while stopping');
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
