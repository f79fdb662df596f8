// `dcnet master`: the overlay master on one node.
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { startMasterServer } from '../overlay/index.js';
import { createLogger } from './logger.js';
import { parseListen } from './listen.js';

export function addMasterCommand(program: Command): void {
  program
    .command('master')
    .description('run the overlay master: allocates agent subnets, VTEP IPs and MACs, durably')
    .option('--config <file>', 'YAML config (DC/OS config.yaml keys); default: the DC/OS defaults')
    .option('--data-dir <dir>', 'where the durable state lives', '/var/lib/dcnet/master')
    .option('--listen <host:port>', 'HTTP API address', '127.0.0.1:5050')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .action(async (opts: { config?: string; dataDir: string; listen: string; logLevel: string }) => {
      const logger = createLogger(opts.logLevel, 'dcnet-master');
      const { host, port } = parseListen(opts.listen);
      const config = await loadConfig(opts.config);
      const server = await startMasterServer({ config, dataDir: opts.dataDir, host, port, logger });
      const stop = (signal: string): void => {
        logger.info({ signal }, 'stopping');
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
    });
}
