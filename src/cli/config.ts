// `dcnet config check`: validates a config file and prints the effective overlay network.
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';

export function addConfigCommand(program: Command): void {
  const config = program.command('config').description('inspect configuration');
  config
    .command('check')
    .argument('[file]', 'YAML config file; default: the DC/OS defaults')
    .description('validate a config file; prints the effective dcos_overlay_network, or every problem found')
    .action(async (file: string | undefined) => {
      const cfg = await loadConfig(file);
      for (const key of cfg.ignoredKeys) process.stderr.write(`note: key "${key}" is not used by dcnet\n`);
      process.stdout.write(
        `${JSON.stringify({ dcos_overlay_network: cfg.network.raw, dcos_overlay_mtu: cfg.overlayMtu, enable_ipv6: cfg.enableIpv6 }, null, 2)}\n`,
      );
    });
}
