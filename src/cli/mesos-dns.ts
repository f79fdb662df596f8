// `dcnet mesos-dns --config config.json`: a drop-in Mesos-DNS (same config file, same records,
// DNS and HTTP API), with the upstream defects fixed (see README "dcnet mesos-dns").
import type { Command } from 'commander';
import { ConfigError } from '../config/index.js';
import { loadMesosDnsConfig, startMesosDns, unsupportedSettings } from '../dns/mesos/index.js';
import { createLogger } from './logger.js';

export const MESOS_DNS_VERSION = '0.1.0';

export function addMesosDnsCommand(program: Command): void {
  program
    .command('mesos-dns')
    .description(
      'run a Mesos-DNS server (DNS for the .mesos domain and the /v1 HTTP API) from its config.json',
    )
    .option('--config <file>', 'Mesos-DNS config.json', 'config.json')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .action(async (opts: { config: string; logLevel: string }) => {
      const log = createLogger(opts.logLevel, 'dcnet-mesos-dns');
      const { config, ignoredKeys, warnings } = await loadMesosDnsConfig(opts.config);
      const unsupported = unsupportedSettings(config);
      if (unsupported.length > 0) throw new ConfigError(unsupported);
      for (const key of ignoredKeys) log.info({ key }, 'config key not used by Mesos-DNS');
      for (const w of warnings) log.warn(w);
      const dns = startMesosDns({ config, log, version: MESOS_DNS_VERSION });
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
