// `dcnet mesos-dns --config config.json`: a drop-in Mesos-DNS (same config file, same records,
// DNS and HTTP API), with the upstream defects fixed (see README "dcnet mesos-dns").
import type { Command } from 'commander';
import { ConfigError } from '../config/index.js';
import { loadMesosDnsConfig, mesosDnsAuth, startMesosDns, unsupportedSettings } from '../dns/mesos/index.js';
import { ClientRateLimit, type ClientRateLimitOptions } from '../dns/server/index.js';
import { createLogger } from './logger.js';
import { UsageError } from './usage-error.js';

export const MESOS_DNS_VERSION = '0.1.0';

export function addMesosDnsCommand(program: Command): void {
  program
    .command('mesos-dns')
    .description(
      'run a Mesos-DNS server (DNS for the .mesos domain and the /v1 HTTP API) from its config.json',
    )
    .option('--config <file>', 'Mesos-DNS config.json', 'config.json')
    .option(
      '--client-qps <n>',
      'queries per second one client address may send (default 0 = no limit: clients are whole nodes)',
      '0',
    )
    .option('--client-exempt <cidr[,…]>', 'client addresses/CIDRs the rate limit never applies to')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .action(async (opts: { config: string; clientQps: string; clientExempt?: string; logLevel: string }) => {
      const clientRateLimit = rateLimit(opts.clientQps, opts.clientExempt);
      const log = createLogger(opts.logLevel, 'dcnet-mesos-dns');
      const { config, ignoredKeys, warnings } = await loadMesosDnsConfig(opts.config);
      const unsupported = unsupportedSettings(config);
      if (unsupported.length > 0) throw new ConfigError(unsupported);
      for (const key of ignoredKeys) log.info({ key }, 'config key not used by Mesos-DNS');
      for (const w of warnings) log.warn(w);
      const auth = await mesosDnsAuth(config).catch((err: Error) => {
        throw new ConfigError([err.message]);
      });
      if (auth) log.info({ auth: auth.describe }, 'authenticating to Mesos');
      const dns = startMesosDns({
        config,
        log,
        version: MESOS_DNS_VERSION,
        ...(clientRateLimit && { clientRateLimit }),
        ...(auth && { auth }),
      });
      const stop = (signal: string): void => {
        log.info({ signal }, 'stopping');
        void dns.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      try {
        await dns.ready;
      } catch (err) {
        // A listener that cannot bind is fatal, as upstream.
        await dns.close().catch(() => {});
        throw err;
      }
    });
}

function rateLimit(qpsText: string, exemptText: string | undefined): ClientRateLimitOptions | undefined {
  const qps = Number(qpsText);
  if (!Number.isInteger(qps) || qps < 0) {
    throw new UsageError(`--client-qps: "${qpsText}" must be an integer ≥ 0`);
  }
  if (qps === 0) return undefined;
  const exempt = (exemptText ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const limit = { qps, exempt };
  try {
    new ClientRateLimit(limit); // validates the CIDRs
  } catch (err) {
    throw new UsageError(`--client-exempt: ${(err as Error).message}`);
  }
  return limit;
}
