// The dcnet command: one executable, one subcommand per role.
import { DCNET_VERSION } from './version.js';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/index.js';
import { RecoveryError } from '../overlay/index.js';
import { StoreError } from '../store/index.js';
import { addMasterCommand } from './master.js';
import { addAgentCommand } from './agent.js';
import { addEmulatorCommand } from './emulator.js';
import { addStatusCommand } from './status.js';
import { addConfigCommand } from './config.js';
import { addDemoCommand } from './demo.js';
import { addMesosDnsCommand } from './mesos-dns.js';
import { addLbCommand } from './lb.js';
import { addPkiCommand } from './pki.js';
import { UsageError } from './usage-error.js';

export function buildProgram(): Command {
  const program = new Command('dcnet')
    .description(
      'DC/OS networking in one daemon: overlay networks, service discovery, L4 and L7 load balancing',
    )
    .version(DCNET_VERSION)
    .exitOverride()
    .showHelpAfterError();
  addDemoCommand(program);
  addMasterCommand(program);
  addAgentCommand(program);
  addStatusCommand(program);
  addConfigCommand(program);
  addEmulatorCommand(program);
  addMesosDnsCommand(program);
  addLbCommand(program);
  addPkiCommand(program);
  return program;
}

/** Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration. */
export async function run(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`dcnet: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    if (err instanceof RecoveryError || err instanceof StoreError || err instanceof Error) {
      process.stderr.write(`dcnet: ${err.message}\n`);
      process.exitCode = err instanceof RecoveryError ? 2 : 1;
      return;
    }
    throw err;
  }
}
